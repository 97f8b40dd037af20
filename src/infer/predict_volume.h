// `vyolo predict` on CT volumes: a NIfTI file or DICOM series (+ optional vertebra mask) -> fracture candidates,
// vertebra and patient probabilities, findings.json/csv, an overlay montage and a NIfTI label volume.
//
// Slices are made the way `vyolo prepare` + the dataset loader made the training images, from the checkpoint's
// metadata (view, img_size, hu_windows; `mode` hu16|windowed|slab, `slab_window`, `crop`/`margin` when present), so
// the model sees at inference exactly the pixels it was trained on (src/data/slicing.h, the API prepare uses):
//   canonical LPS volume -> slice (whole, or per-vertebra crop + margin) -> letterbox to img_size in HU (physical
//   aspect, bilinear, padded with the slice minimum) -> uint16 (HU + 32768) -> window_hu -> Predictor.
// Keys the metadata lacks come from the config (a warning says which). `crop`: none (whole slices) | vertebra (one
// crop per vertebra of the mask; needs a mask, else whole slices with a warning) | auto (vertebra when a mask is
// given). Boxes of overlapping crops on one slice are merged by NMS (IoU 0.5) in whole-slice pixels.
//
// Several checkpoints (weights=[a,b,c]): each gives its own candidates (3D linking per model), then candidates are
// fused in 3D across models (findings::fuse_candidates: a fused score is the mean over models of each model's best
// member score, absent models counting 0). Models of different views fuse the same way, in canonical voxels.
#pragma once
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "config/config.h"
#include "data/volume.h"
#include "findings/calibration.h"
#include "findings/operating_point.h"
#include "findings/report.h"
#include "findings/study_findings.h"
#include "infer/predictor.h"
#include "model/weights.h"

namespace vyolo::infer {

// How a checkpoint's training slices were made.
struct SliceRecipe {
  findings::View view = findings::View::Axial;
  int image_size = 256;       // prepare's square side; also the network input size
  HuWindows windows;
  std::string mode = "hu16";  // hu16 | windowed | slab
  std::string slab_window = "bone";  // slab mode: the window of all three channels
  std::string crop = "auto";  // none | vertebra | auto
  int margin = 5;
};

// What the user asked for explicitly; a checkpoint trained otherwise is a UsageError naming both.
struct ModelRequest {
  std::optional<std::string> view;
  std::optional<HuWindows> windows;
  std::optional<std::string> crop;  // overrides the checkpoint's crop (not an error)
  std::optional<int> margin;
};

struct VolumeModel {
  std::string path, name;  // name: file stem (+ parent folder when the stem is best/last)
  model::ModelSpec spec;
  SliceRecipe recipe;
  std::shared_ptr<Predictor> predictor;
  std::vector<std::string> warnings;  // metadata that was missing and where the value came from instead
  std::optional<findings::OperatingPoint> operating_point;  // chosen on its validation studies (metadata)
  findings::Calibration calibration;                        // fitted there too (metadata), or none
};

// The vertebra threshold and calibration a run uses: `threshold=` when given; else one model's operating point (and
// its calibration); an ensemble whose models all carry one takes the mean of their thresholds and no calibration
// (its fused score is a mean of the models' uncalibrated scores); else 0.5. `source` says which, for the reader.
struct Decision {
  double threshold = 0.5;
  std::string source = "default 0.5 (no operating point in the checkpoint)";
  findings::Calibration calibration;
};
Decision decide_threshold(const std::vector<VolumeModel>& models, const std::optional<double>& given);

// Loads a checkpoint (.safetensors through LibTorch, an exported .onnx through OpenCV DNN) and reads its recipe
// (metadata first, then `fallback`'s data.* with a warning).
VolumeModel load_volume_model(const std::string& path, const Config& fallback, const ModelRequest& req,
                              const ops::NmsOptions& nms, torch::Device device);

// A CT study read and brought to the canonical grid, with its vertebra mask when given.
struct VolumeStudy {
  std::string source, mask_path, case_id;
  Volume input;      // as read (its grid and affine are what the label volume is written on)
  Volume canonical;  // to_canonical(input)
  std::optional<Volume> mask;  // canonical
};
// Throws RuntimeError naming the file for an unreadable CT, an empty folder, or a mask on another grid.
VolumeStudy load_study(const std::filesystem::path& ct, const std::filesystem::path& mask = {},
                       const std::string& case_id = "");

// Reads a mask (vertebrae, fractures) and brings it to the canonical grid; RuntimeError naming it when that grid is
// not the CT's (dims, or affine beyond 5 % of a slice, prepare's tolerance).
Volume read_mask_on(const std::filesystem::path& mask, const Volume& canonical_ct);

struct VolumePredictOptions {
  int batch = 16;
  findings::FindingsOptions findings;  // link / fuse / assign (assign.scheme = the mask's label map)
  double threshold = 0.5;              // a vertebra / the patient is called fractured at score >= threshold
  findings::Calibration calibration;   // turns vertebra and patient scores into probabilities
  std::string threshold_source = "default 0.5";  // where the threshold came from (Decision::source)
  int montage_tiles = 16;
};

// One study through every model: per-model slice detections (in whole-slice pixels of the canonical grid),
// linked, fused and assigned. `sources_out`, when given, receives the raw per-model detections.
findings::StudyFindings predict_study(std::vector<VolumeModel>& models, const VolumeStudy& study,
                                      const VolumePredictOptions& opt,
                                      std::vector<findings::SourceDetections>* sources_out = nullptr);

// The network input for whole slice `slice` (crop none) exactly as prepare + the dataset loader made it for training.
cv::Mat whole_slice_input(const Volume& canonical, const SliceRecipe& rc, int slice, int imgsz);

// The 8-bit BGR image of a whole canonical slice in `w` (the pixel space of the candidates' member boxes).
cv::Mat whole_slice_image(const Volume& canonical, findings::View view, int slice, const HuWindows& w);

// Writes findings.json, findings.csv, findings_vertebrae.csv (with a mask), montage.png and candidates.nii.gz (the
// input's grid and affine) into out_dir. Every file is written atomically.
void write_volume_outputs(const std::filesystem::path& out_dir, const VolumeStudy& study,
                          const findings::StudyFindings& f, const std::vector<VolumeModel>& models,
                          const VolumePredictOptions& opt, const std::string& label_scheme);

// For each vertebra with a candidate (strongest first, at most max_images): the slice of its strongest candidate with
// that candidate's boxes drawn, captioned, for reports. Keyed by vertebra name.
std::map<std::string, cv::Mat> vertebra_slice_images(const VolumeStudy& study, const findings::StudyFindings& f,
                                                     const std::vector<VolumeModel>& models, int max_images = 12);

// A .nii / .nii.gz file, or a folder holding a DICOM file (by the DICM magic or a .dcm name).
bool is_volume_source(const std::filesystem::path& p);

}  // namespace vyolo::infer
