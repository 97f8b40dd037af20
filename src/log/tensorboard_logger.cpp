#include "log/tensorboard_logger.h"

#include <unistd.h>

#include <cstdio>

#include "common/error.h"
#include "common/console.h"
#include "common/fs_util.h"
#include "log/record_io.h"
#include "log/tracker_util.h"
#include "tb_event.pb.h"

namespace vyolo::log {
namespace {

std::filesystem::path new_event_path(const std::filesystem::path& dir) {
  char secs[16];
  std::snprintf(secs, sizeof secs, "%010lld", static_cast<long long>(unix_now()));
  std::string base = std::string("events.out.tfevents.") + secs + "." + hostname() + "." + std::to_string(getpid());
  for (int n = 0;; ++n) {
    auto p = dir / (base + "." + std::to_string(n));
    if (!std::filesystem::exists(p)) return p;
  }
}

tbpb::Summary::Value& plugin_value(tbpb::Summary& s, const std::string& tag, const std::string& plugin,
                                   const std::string& content) {
  auto* v = s.add_value();
  v->set_tag(tag);
  auto* pd = v->mutable_metadata()->mutable_plugin_data();
  pd->set_plugin_name(plugin);
  pd->set_content(content);
  return *v;
}

void add_text(tbpb::Summary& s, const std::string& tag, const std::string& text) {
  auto& v = plugin_value(s, tag, "text", "");  // TextPluginData{version 0} serializes to nothing
  auto* t = v.mutable_tensor();
  t->set_dtype(7);  // DT_STRING, rank 0
  t->add_string_val(text);
}

void add_hparams(tbpb::Summary& s, const std::string& tag, const tbpb::HParamsPluginData& data) {
  auto& v = plugin_value(s, tag, "hparams", data.SerializeAsString());
  auto* t = v.mutable_tensor();  // the reference writer's placeholder: an empty float vector
  t->set_dtype(1);
  t->mutable_tensor_shape()->add_dim()->set_size(0);
}

// The hyper-parameters shown in the HPARAMS tab: what differs between runs of this project.
std::vector<std::pair<std::string, tbpb::HValue>> hparams_of(const Config& c) {
  std::vector<std::pair<std::string, tbpb::HValue>> h;
  auto num = [&](const std::string& k, double v) { h.emplace_back(k, tbpb::HValue()); h.back().second.set_number_value(v); };
  auto str = [&](const std::string& k, const std::string& v) { h.emplace_back(k, tbpb::HValue()); h.back().second.set_string_value(v); };
  auto flag = [&](const std::string& k, bool v) { h.emplace_back(k, tbpb::HValue()); h.back().second.set_bool_value(v); };
  str("model.variant", c.model.variant);
  num("model.img_size", c.model.img_size);
  num("data.batch_size", c.data.batch_size);
  num("split.fold_id", c.split.fold_id);
  str("training.optimizer", c.training.optimizer);
  num("training.lr0", c.training.lr0);
  num("training.lrf", c.training.lrf);
  num("training.momentum", c.training.momentum);
  num("training.weight_decay", c.training.weight_decay);
  num("training.warmup_epochs", c.training.warmup_epochs);
  num("training.epochs", c.training.epochs);
  flag("training.cos_lr", c.training.cos_lr);
  flag("training.use_focal_loss", c.training.use_focal_loss);
  num("training.focal_gamma", c.training.focal_gamma);
  num("training.focal_alpha", c.training.focal_alpha);
  num("hyp.mosaic", c.hyp.mosaic);
  num("hyp.mixup", c.hyp.mixup);
  num("hyp.box", c.hyp.box);
  num("hyp.cls", c.hyp.cls);
  num("hyp.dfl", c.hyp.dfl);
  num("seed", c.seed);
  str("logging.experiment_name", c.logging.experiment_name);
  return h;
}

}  // namespace

TensorBoardLogger::TensorBoardLogger(const Config& cfg, const RunInfo& info) : cfg_(cfg) {
  auto dir = info.run_dir / "tensorboard";
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) throw RuntimeError(dir.string() + ": cannot create TensorBoard folder: " + ec.message());
  if (info.resumed) {
    // A killed run may have left half a record at the end of its events file: cut it back to its last whole record,
    // so that every reader (TensorBoard, tbparse, ours) takes the file.
    for (auto it = std::filesystem::directory_iterator(dir, ec); !ec && it != std::filesystem::directory_iterator(); ++it) {
      if (it->path().filename().string().rfind("events.out.tfevents.", 0) != 0) continue;
      const std::string bytes = read_file(it->path());
      const uint64_t keep = tfrecord_complete_prefix(bytes);
      if (keep < bytes.size()) {
        std::filesystem::resize_file(it->path(), keep, ec);
        console::note(it->path().string() + ": cut a torn record (" + std::to_string(bytes.size() - keep) +
                      " bytes) off its end");
      }
    }
  }
  path_ = new_event_path(dir);
  writer_ = std::make_unique<TFRecordWriter>(path_);
  tbpb::Event e;
  e.set_wall_time(unix_now());
  e.set_file_version("brain.Event:2");
  writer_->write(e.SerializeAsString());
  writer_->flush();
}

TensorBoardLogger::~TensorBoardLogger() = default;

void TensorBoardLogger::write(int64_t step, const std::string& summary_bytes) {
  tbpb::Event e;
  e.set_wall_time(unix_now());
  e.set_step(step);
  e.mutable_summary()->ParseFromString(summary_bytes);
  writer_->write(e.SerializeAsString());
  writer_->flush();
  if (step > last_step_) last_step_ = step;
}

void TensorBoardLogger::run_start(const RunInfo& info) {
  tbpb::Summary s;
  add_text(s, "config", "```yaml\n" + info.config_yaml + "```");
  if (!info.command_line.empty()) add_text(s, "command_line", info.command_line);
  if (!info.resumed) {
    auto hp = hparams_of(cfg_);
    tbpb::HParamsPluginData exp;
    auto* x = exp.mutable_experiment();
    x->set_time_created_secs(unix_now());
    for (const auto& [name, value] : hp) {
      auto* hi = x->add_hparam_infos();
      hi->set_name(name);
      hi->set_type(value.has_string_value() ? 1 : value.has_bool_value() ? 2 : 3);
    }
    static const char* metrics[] = {"metrics/precision(B)", "metrics/recall(B)", "metrics/mAP50(B)",
                                    "metrics/mAP50-95(B)", "val/box_loss",      "val/cls_loss",
                                    "val/dfl_loss"};
    for (const char* m : metrics) {
      auto* mi = x->add_metric_infos();
      mi->mutable_name()->set_tag(m);
      mi->set_dataset_type(2);
    }
    add_hparams(s, "_hparams_/experiment", exp);

    tbpb::HParamsPluginData start;
    auto* si = start.mutable_session_start_info();
    for (const auto& [name, value] : hp) (*si->mutable_hparams())[name] = value;
    si->set_group_name(cfg_.logging.experiment_name + "/" + info.run_name);
    si->set_start_time_secs(unix_now());
    add_hparams(s, "_hparams_/session_start_info", start);
  }
  write(0, s.SerializeAsString());
}

void TensorBoardLogger::scalars(int64_t step, const std::map<std::string, double>& values) {
  tbpb::Summary s;
  for (const auto& [k, v] : values) {
    auto* val = s.add_value();
    val->set_tag(k);
    val->set_simple_value(static_cast<float>(v));
  }
  write(step, s.SerializeAsString());
}

void TensorBoardLogger::image(int64_t step, const std::string& tag, const cv::Mat& bgr) {
  const std::string png = png_bytes(bgr, tag);
  tbpb::Summary s;
  auto* v = s.add_value();
  v->set_tag(tag);
  auto* img = v->mutable_image();
  img->set_height(bgr.rows);
  img->set_width(bgr.cols);
  img->set_colorspace(bgr.channels() == 1 ? 1 : bgr.channels() == 4 ? 4 : 3);
  img->set_encoded_image_string(png);
  write(step, s.SerializeAsString());
}

void TensorBoardLogger::epoch_end(int epoch, const std::map<std::string, double>& row) {
  scalars(epoch, row);
  last_epoch_ = epoch;
}

void TensorBoardLogger::run_end(const std::map<std::string, double>& final_metrics, int exit_code) {
  tbpb::Summary s;
  for (const auto& [k, v] : final_metrics) {
    auto* val = s.add_value();
    val->set_tag("final/" + k);
    val->set_simple_value(static_cast<float>(v));
  }
  tbpb::HParamsPluginData end;
  end.mutable_session_end_info()->set_status(exit_code == 0 ? 1 : 2);
  end.mutable_session_end_info()->set_end_time_secs(unix_now());
  add_hparams(s, "_hparams_/session_end_info", end);
  write(last_epoch_ >= 0 ? last_epoch_ : last_step_, s.SerializeAsString());
}

}  // namespace vyolo::log
