// 3D linking of constructed per-slice box sequences, slice-to-voxel geometry, and fusion across models and views.
#include <gtest/gtest.h>

#include "common/error.h"
#include "findings/linking.h"

using namespace vyolo::findings;

namespace {

SliceGeometry axial() { return make_slice_geometry(View::Axial, {64, 64, 40}, {0.5, 0.5, 2.0}); }

SliceBox box(double x1, double y1, double x2, double y2, double s) { return {x1, y1, x2, y2, s}; }

}  // namespace

TEST(Linking, GapWithinToleranceJoins) {
  std::map<int, std::vector<SliceBox>> in{{10, {box(10, 20, 20, 30, 0.9)}},
                                          {11, {box(10, 20, 20, 30, 0.8)}},
                                          {13, {box(11, 21, 21, 31, 0.7)}}};  // slice 12 missing: gap 1
  auto c = link_slices(in, axial());
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(c[0].id, 1);
  EXPECT_EQ(c[0].slice_first, 10);
  EXPECT_EQ(c[0].slice_last, 13);
  EXPECT_EQ(c[0].n_slices, 3);
  EXPECT_EQ(c[0].members.size(), 3u);
  EXPECT_EQ(c[0].footprint.size(), 3u);
}

TEST(Linking, BiggerGapSplits) {
  std::map<int, std::vector<SliceBox>> in{{10, {box(10, 20, 20, 30, 0.9)}},
                                          {11, {box(10, 20, 20, 30, 0.8)}},
                                          {14, {box(10, 20, 20, 30, 0.7)}}};  // slices 12, 13 missing: gap 2
  auto c = link_slices(in, axial());
  ASSERT_EQ(c.size(), 2u);
  EXPECT_EQ(c[0].slice_first, 10);
  EXPECT_EQ(c[0].slice_last, 11);
  EXPECT_EQ(c[1].slice_first, 14);
  EXPECT_EQ(c[1].n_slices, 1);
  // With a tolerance of 2 they join.
  LinkOptions o;
  o.max_gap = 2;
  EXPECT_EQ(link_slices(in, axial(), o).size(), 1u);
}

TEST(Linking, TwoFracturesInOneVertebraStaySeparate) {
  std::map<int, std::vector<SliceBox>> in;
  for (int s = 10; s <= 14; ++s) in[s] = {box(5, 20, 15, 30, 0.8), box(40, 20, 50, 30, 0.6)};
  auto c = link_slices(in, axial());
  ASSERT_EQ(c.size(), 2u);
  EXPECT_EQ(c[0].n_slices, 5);
  EXPECT_EQ(c[1].n_slices, 5);
  EXPECT_DOUBLE_EQ(c[0].score, 0.8);  // ranked by score
  EXPECT_DOUBLE_EQ(c[0].lo[0], 5);
  EXPECT_DOUBLE_EQ(c[1].lo[0], 40);
}

TEST(Linking, LowOverlapSplitsAndMinRatioLinksShrinkingBoxes) {
  // The second box lies inside the first but is small: IoU 0.09, intersection/smaller area 1.
  std::map<int, std::vector<SliceBox>> in{{5, {box(0, 0, 30, 30, 0.9)}}, {6, {box(10, 10, 19, 19, 0.9)}}};
  EXPECT_EQ(link_slices(in, axial()).size(), 2u);
  LinkOptions o;
  o.overlap = Overlap::MinRatio;
  EXPECT_EQ(link_slices(in, axial(), o).size(), 1u);
}

TEST(Linking, ScoresAndBoxesInVoxelsAndMillimetres) {
  std::map<int, std::vector<SliceBox>> in{{10, {box(10, 20, 20, 30, 0.7)}},
                                          {11, {box(10, 20, 20, 30, 0.9)}},
                                          {12, {box(10, 20, 20, 30, 0.8)}},
                                          {13, {box(10, 20, 20, 30, 0.2)}},
                                          {30, {box(40, 40, 50, 50, 0.9)}}};
  auto c = link_slices(in, axial());
  ASSERT_EQ(c.size(), 2u);
  const Candidate& a = c[0];
  EXPECT_DOUBLE_EQ(a.score_max, 0.9);
  EXPECT_DOUBLE_EQ(a.score_mean, (0.7 + 0.9 + 0.8 + 0.2) / 4);
  EXPECT_DOUBLE_EQ(a.score, (0.9 + 0.8) / 2);  // top-2 mean
  EXPECT_DOUBLE_EQ(c[1].score, 0.45);           // single slice: half its box score
  EXPECT_DOUBLE_EQ(c[1].score_max, 0.9);
  VoxelBox vb = a.voxel_box({64, 64, 40});
  EXPECT_EQ(vb.lo, (std::array<int, 3>{10, 20, 10}));
  EXPECT_EQ(vb.hi, (std::array<int, 3>{19, 29, 13}));
  auto lo = a.mm_lo({0.5, 0.5, 2.0}), hi = a.mm_hi({0.5, 0.5, 2.0});
  EXPECT_EQ(lo, (std::array<double, 3>{5, 10, 20}));
  EXPECT_EQ(hi, (std::array<double, 3>{10, 15, 28}));
  LinkOptions o;
  o.score_mode = ScoreMode::Max;
  EXPECT_DOUBLE_EQ(link_slices(in, axial(), o)[0].score, 0.9);
  o.min_slices = 2;
  EXPECT_EQ(link_slices(in, axial(), o).size(), 1u);
}

TEST(Linking, CoronalFlipAndLetterboxMapToVoxels) {
  // Coronal: slice = y, columns = x, rows = z with row 0 at the top (z = nz). Letterbox: pixel = c' * 2 + pad.
  SliceGeometry g = make_slice_geometry(View::Coronal, {64, 48, 40}, {1, 1, 1});
  g.flip_v = true;
  g.scale = 2;
  g.pad_u = 0;
  g.pad_v = 16;
  std::array<double, 3> lo, hi;
  // columns 20..40 -> x 10..20; rows 36..46 -> c' 10..15 -> z = 40-15 .. 40-10 = 25..30.
  slice_box_to_voxels(g, 7, box(20, 36, 40, 46, 1), lo, hi);
  EXPECT_EQ(lo, (std::array<double, 3>{10, 7, 25}));
  EXPECT_EQ(hi, (std::array<double, 3>{20, 8, 30}));
  std::map<int, std::vector<SliceBox>> in{{47, {box(0, 0, 10, 10, 1)}}, {48, {box(0, 0, 10, 10, 1)}}};
  EXPECT_THROW(link_slices(in, g), vyolo::UsageError);  // only 48 coronal slices
  EXPECT_TRUE(make_slice_geometry(View::Sagittal, {64, 48, 40}, {1, 1, 1}).flip_v);
  EXPECT_FALSE(make_slice_geometry(View::Axial, {64, 48, 40}, {1, 1, 1}).flip_v);
}

TEST(Linking, LetterboxLikeSrcData) {
  // A 100 (x) by 50 (z) coronal slice letterboxed to 256: scale 2.56, 256 x 128 placed at row 64.
  SliceGeometry g = make_slice_geometry(View::Coronal, {100, 30, 50}, {1, 1, 1});
  set_letterbox(g, 256);
  EXPECT_DOUBLE_EQ(g.scale, 2.56);
  EXPECT_DOUBLE_EQ(g.pad_u, 0);
  EXPECT_DOUBLE_EQ(g.pad_v, 64);
  std::array<double, 3> lo, hi;
  slice_box_to_voxels(g, 3, box(25.6, 64, 51.2, 89.6, 1), lo, hi);  // x 10..20, rows 0..10 -> z 40..50
  EXPECT_NEAR(lo[0], 10, 1e-9);
  EXPECT_NEAR(hi[0], 20, 1e-9);
  EXPECT_NEAR(lo[2], 40, 1e-9);
  EXPECT_NEAR(hi[2], 50, 1e-9);
}

TEST(Linking, FusionAcrossModelsAveragesWithAbsentModelsAsZero) {
  auto one = [](double x0, double s) {
    std::map<int, std::vector<SliceBox>> in;
    for (int k = 10; k <= 13; ++k) in[k] = {box(x0, 20, x0 + 10, 30, s)};
    LinkOptions o;
    o.score_mode = ScoreMode::Max;
    return link_slices(in, axial(), o);
  };
  auto a = one(10, 0.9), b = one(11, 0.6), c = one(40, 0.8);
  auto fused = fuse_candidates({a, b, c});
  ASSERT_EQ(fused.size(), 2u);
  // Cluster {a, b}: (0.9 + 0.6 + 0) / 3; cluster {c}: 0.8 / 3.
  EXPECT_NEAR(fused[0].score, 1.5 / 3, 1e-12);
  EXPECT_EQ(fused[0].n_sources, 2);
  EXPECT_DOUBLE_EQ(fused[0].score_max, 0.9);
  EXPECT_NEAR(fused[0].lo[0], (0.9 * 10 + 0.6 * 11) / 1.5, 1e-9);  // score-weighted box
  EXPECT_EQ(fused[0].footprint.size(), 8u);
  EXPECT_NEAR(fused[1].score, 0.8 / 3, 1e-12);
  EXPECT_EQ(fused[1].n_sources, 1);
  FuseOptions o;
  o.n_sources = 5;  // five fold models, two of which found nothing here
  EXPECT_NEAR(fuse_candidates({a, b, c}, o)[0].score, 1.5 / 5, 1e-12);
}

TEST(Linking, AxialAndCoronalViewsFuseIn3D) {
  // One fracture at x 10..20, y 20..30, z 10..14 seen in both views.
  std::map<int, std::vector<SliceBox>> ax, co;
  for (int z = 10; z < 14; ++z) ax[z] = {box(10, 20, 20, 30, 0.8)};
  for (int y = 20; y < 30; ++y) co[y] = {box(10, 26, 20, 30, 0.6)};  // rows from the top: z = 40 - row
  auto a = link_slices(ax, axial());
  auto c = link_slices(co, make_slice_geometry(View::Coronal, {64, 64, 40}, {0.5, 0.5, 2.0}));
  ASSERT_EQ(a.size(), 1u);
  ASSERT_EQ(c.size(), 1u);
  EXPECT_NEAR(iou_3d(a[0].lo, a[0].hi, c[0].lo, c[0].hi), 1.0, 1e-12);
  auto f = fuse_candidates({a, c});
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].source, "axial+coronal");
  EXPECT_EQ(f[0].view, View::Axial);  // the better member's view
  EXPECT_EQ(f[0].members.size(), 4u);  // only the axial members: slice indices are per view
  EXPECT_NEAR(f[0].score, (0.8 + 0.6) / 2, 1e-12);
}
