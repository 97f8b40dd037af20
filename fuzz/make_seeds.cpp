// Makes small fuzz seeds from real files, so that a target starts from realistic structure at a size libFuzzer
// mutates quickly. tools/fuzz.sh runs it on ../shared into the build folder; nothing it writes is committed.
//
//   vyolo_fuzz_seeds safetensors OUT FILE...  the metadata with the smallest tensors (<= 4 KiB of data); and every
//                                              tensor name with its dtype, shape [1]
//   vyolo_fuzz_seeds nifti OUT FILE...        a central crop (at most 12 x 12 x 6) of each volume, keeping its
//                                              geometry: .nii int16, .nii.gz float32, .nii uint8
//   vyolo_fuzz_seeds dicom OUT DIR...         a central crop (at most 16 x 16 x 3) of each series: single slices
//                                              (uncompressed, JPEG 2000, RLE) and the three slices in one input
//                                              (joined by the dicom target's "\nVYOLO-SLICE\n")
//   vyolo_fuzz_seeds synthetic OUT            the hand-made seeds committed under fuzz/corpus/ (a 16 x 12 x 3 volume
//                                              as NIfTI and DICOM, a weights file and a checkpoint-like file)
#include <gdcmImageChangeTransferSyntax.h>
#include <gdcmImageReader.h>
#include <gdcmImageWriter.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

#include "common/fs_util.h"
#include "common/safetensors.h"
#include "data/volume.h"

namespace fs = std::filesystem;
using namespace vyolo;

namespace {

std::string stem_of(const fs::path& p) {
  std::string s = p.filename().string();
  for (const char* ext : {".nii.gz", ".nii", ".safetensors"})
    if (s.size() > std::strlen(ext) && s.compare(s.size() - std::strlen(ext), std::strlen(ext), ext) == 0)
      return s.substr(0, s.size() - std::strlen(ext));
  return s;
}

void safetensors_seeds(const fs::path& in, const fs::path& out) {
  const st::File f = st::read(in.string());
  std::vector<std::pair<size_t, std::string>> by_size;
  for (const auto& [name, t] : f.tensors) by_size.emplace_back(t.bytes.size(), name);
  std::sort(by_size.begin(), by_size.end());
  st::File small;
  small.metadata = f.metadata;
  size_t total = 0;
  for (const auto& [n, name] : by_size) {
    if (total + n > 4096 && !small.tensors.empty()) break;
    small.tensors[name] = f.tensors.at(name);
    total += n;
  }
  st::write_atomic((out / (stem_of(in) + "_small.safetensors")).string(), small);
  st::File names;
  for (const auto& [name, t] : f.tensors) {
    st::Tensor one;
    one.dtype = t.dtype;
    one.shape = {1};
    one.bytes = t.bytes.substr(0, st::dtype_size(t.dtype));
    names.tensors[name] = one;
  }
  st::write_atomic((out / (stem_of(in) + "_names.safetensors")).string(), names);
}

// The central block of at most `size` voxels per axis, with the affine moved to its first voxel.
Volume crop(const Volume& v, const std::array<int, 3>& size) {
  Volume c;
  std::array<int, 3> at{};
  for (int a = 0; a < 3; ++a) {
    c.dims[a] = std::min(size[a], v.dims[a]);
    at[a] = (v.dims[a] - c.dims[a]) / 2;
  }
  c.spacing = v.spacing;
  c.affine = v.affine;
  for (int r = 0; r < 3; ++r)
    c.affine[r][3] = v.affine[r][0] * at[0] + v.affine[r][1] * at[1] + v.affine[r][2] * at[2] + v.affine[r][3];
  c.voxels.resize(c.size());
  for (int k = 0; k < c.dims[2]; ++k)
    for (int j = 0; j < c.dims[1]; ++j)
      for (int i = 0; i < c.dims[0]; ++i) c.at(i, j, k) = v.at(i + at[0], j + at[1], k + at[2]);
  return c;
}

void nifti_seeds(const fs::path& in, const fs::path& out) {
  const Volume c = crop(read_nifti(in), {12, 12, 6});
  write_nifti(c, out / (stem_of(in) + "_i16.nii"), 4);
  write_nifti(c, out / (stem_of(in) + "_f32.nii.gz"), 16);
  write_nifti(c, out / (stem_of(in) + "_u8.nii"), 2);
}

bool transcode(const fs::path& in, const fs::path& out, const gdcm::TransferSyntax& ts) {
  gdcm::ImageReader r;
  r.SetFileName(in.string().c_str());
  if (!r.Read()) return false;
  gdcm::ImageChangeTransferSyntax change;
  change.SetTransferSyntax(ts);
  change.SetInput(r.GetImage());
  if (!change.Change()) return false;
  gdcm::ImageWriter w;
  w.SetFileName(out.string().c_str());
  w.SetFile(r.GetFile());
  w.SetImage(change.GetOutput());
  return w.Write();
}

void dicom_seeds(const fs::path& in, const fs::path& out) {
  const Volume c = crop(read_dicom_series(in), {16, 16, 3});
  const fs::path tmp = out / ".series";
  fs::remove_all(tmp);
  write_dicom_series(c, tmp);
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(tmp)) files.push_back(e.path());
  std::sort(files.begin(), files.end());
  const std::string stem = in.filename().string();
  std::string joined;
  for (size_t i = 0; i < files.size(); ++i) {
    const std::string bytes = read_file(files[i]);
    joined += (i ? "\nVYOLO-SLICE\n" : "") + bytes;
    if (i) continue;
    write_file_atomic(out / (stem + "_raw.dcm"), bytes);
    if (!transcode(files[i], out / (stem + "_j2k.dcm"), gdcm::TransferSyntax::JPEG2000Lossless))
      std::cerr << "vyolo_fuzz_seeds: no JPEG 2000 seed from " << files[i] << "\n";
    if (!transcode(files[i], out / (stem + "_rle.dcm"), gdcm::TransferSyntax::RLELossless))
      std::cerr << "vyolo_fuzz_seeds: no RLE seed from " << files[i] << "\n";
  }
  write_file_atomic(out / (stem + "_series.dcm"), joined);
  fs::remove_all(tmp);
}

// A 16 x 12 x 3 volume with a non-unit geometry and a gradient of HU values. (Not smaller: GDCM 3.0.21's JPEG 2000
// encoder overflows its output buffer on tiny images, e.g. 6 x 5; vyolo itself never encodes JPEG 2000.)
Volume synthetic_volume() {
  Volume v;
  v.dims = {16, 12, 3};
  v.spacing = {0.8, 0.7, 2.5};
  v.affine = make_affine(v.spacing, {-12.5, 30.0, 100.0});
  v.voxels.resize(v.size());
  for (size_t i = 0; i < v.voxels.size(); ++i) v.voxels[i] = static_cast<float>(-1000 + 37 * static_cast<int>(i));
  return v;
}

st::Tensor tensor(const std::string& dtype, std::vector<int64_t> shape) {
  st::Tensor t;
  t.dtype = dtype;
  t.shape = std::move(shape);
  t.bytes.assign(static_cast<size_t>(t.numel()) * st::dtype_size(dtype), '\0');
  for (size_t i = 0; i < t.bytes.size(); ++i) t.bytes[i] = static_cast<char>(i * 7);
  return t;
}

void synthetic_seeds(const fs::path& out) {
  fs::create_directories(out / "nifti");
  fs::create_directories(out / "dicom");
  fs::create_directories(out / "safetensors");
  const Volume v = synthetic_volume();
  write_nifti(v, out / "nifti" / "tiny_i16.nii", 4);
  write_nifti(v, out / "nifti" / "tiny_f32.nii.gz", 16);
  Volume mask = v;
  for (auto& x : mask.voxels) x = x > 0 ? 1 : 0;
  write_nifti(mask, out / "nifti" / "tiny_mask_u8.nii.gz", 2);
  const fs::path tmp = out / "dicom" / ".series";
  fs::remove_all(tmp);
  write_dicom_series(v, tmp, "1.2.826.0.1.3680043.2.1125.1");
  const fs::path series = out / "dicom" / "tiny";
  fs::create_directories(series);
  for (const auto& e : fs::directory_iterator(tmp)) fs::copy_file(e.path(), series / e.path().filename());
  fs::remove_all(tmp);
  dicom_seeds(series, out / "dicom");
  fs::remove_all(series);
  st::File w;
  w.tensors["model.0.conv.weight"] = tensor("F32", {2, 3, 1, 1});
  w.tensors["model.0.bn.num_batches_tracked"] = tensor("I64", {});
  w.tensors["model.22.cv3.0.2.weight"] = tensor("F16", {1, 2, 1, 1});
  w.tensors["model.22.cv3.0.2.bias"] = tensor("BF16", {1});
  w.metadata = {{"variant", "yolov8n"}, {"num_classes", "1"}, {"names", "[\"fracture\"]"},
                {"input_channels", "3"}, {"img_size", "256"}, {"format", "vyolo-checkpoint-1"}};
  st::write_atomic((out / "safetensors" / "tiny_weights.safetensors").string(), w);
  st::File c = w;
  c.tensors["train.model.0.conv.weight"] = tensor("F32", {2, 3, 1, 1});
  c.tensors["optim.model.0.conv.weight.exp_avg"] = tensor("F32", {2, 3, 1, 1});
  c.tensors["optim.step"] = tensor("I64", {1});
  c.tensors["rng.torch_cpu"] = tensor("U8", {16});
  c.tensors["empty"] = tensor("BOOL", {0, 3});
  c.metadata["epoch"] = "3";
  c.metadata["best_fitness"] = "0.25";
  c.metadata["train_state"] = R"({"batch":2,"world":1,"ema_updates":12,"has_best":true,"tloss":[1.0,2.0,3.0]})";
  c.metadata["config"] = "model:\n  variant: yolov8n\ntraining:\n  epochs: 5\n";
  st::write_atomic((out / "safetensors" / "tiny_checkpoint.safetensors").string(), c);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 3 && std::string(argv[1]) == "synthetic") {
    synthetic_seeds(argv[2]);
    return 0;
  }
  if (argc < 4) {
    std::cerr << "usage: vyolo_fuzz_seeds safetensors|nifti|dicom OUT INPUT... | vyolo_fuzz_seeds synthetic OUT\n";
    return 2;
  }
  const std::string kind = argv[1];
  const fs::path out = argv[2];
  fs::create_directories(out);
  int failed = 0;
  for (int i = 3; i < argc; ++i) {
    try {
      if (kind == "safetensors") safetensors_seeds(argv[i], out);
      else if (kind == "nifti") nifti_seeds(argv[i], out);
      else if (kind == "dicom") dicom_seeds(argv[i], out);
      else throw std::runtime_error("unknown kind " + kind);
    } catch (const std::exception& e) {
      std::cerr << "vyolo_fuzz_seeds: " << argv[i] << ": " << e.what() << "\n";
      ++failed;
    }
  }
  return failed ? 1 : 0;
}
