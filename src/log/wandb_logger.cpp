#include "log/wandb_logger.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <random>
#include <sstream>
#include <thread>

#include "common/console.h"
#include "common/error.h"
#include "common/fs_util.h"
#include "common/child_process.h"
#include "log/record_io.h"
#include "log/sha256.h"
#include "log/text_loggers.h"
#include "log/tracker_util.h"
#include "wandb_record.pb.h"

namespace vyolo::log {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

enum FilePolicy { kNow = 0, kEnd = 1 };
enum FileType { kOther = 0, kWandb = 1, kMedia = 2 };

std::string env(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

std::string trim(const std::string& s) {
  auto b = s.find_first_not_of(" \t"), e = s.find_last_not_of(" \t");
  return b == std::string::npos ? "" : s.substr(b, e - b + 1);
}

// W&B's run ids: 8 characters of [a-z0-9].
std::string new_run_id() {
  static const char* alphabet = "abcdefghijklmnopqrstuvwxyz0123456789";
  std::random_device rd;
  std::mt19937_64 gen((uint64_t(rd()) << 32) ^ rd() ^ uint64_t(unix_now() * 1e6));
  std::string id;
  for (int i = 0; i < 8; ++i) id += alphabet[gen() % 36];
  return id;
}

// Non-finite numbers travel as strings: the Go JSON parser in `wandb sync` rejects bare NaN tokens.
json number(double v) { return std::isfinite(v) ? json(v) : json(std::to_string(v)); }

// Plain YAML scalars become bool/null/int/float where they parse as such; quoted ones stay strings.
json yaml_to_json(const YAML::Node& n) {
  if (!n || n.IsNull()) return nullptr;
  if (n.IsSequence()) {
    json a = json::array();
    for (const auto& x : n) a.push_back(yaml_to_json(x));
    return a;
  }
  if (n.IsMap()) {
    json o = json::object();
    for (const auto& kv : n) o[kv.first.as<std::string>()] = yaml_to_json(kv.second);
    return o;
  }
  const std::string s = n.Scalar();
  if (n.Tag() == "!") return s;
  if (s == "true" || s == "True") return true;
  if (s == "false" || s == "False") return false;
  if (s == "null" || s == "~") return nullptr;
  if (!s.empty()) {
    char* end = nullptr;
    long long i = std::strtoll(s.c_str(), &end, 10);
    if (*end == '\0') return i;
    double d = std::strtod(s.c_str(), &end);
    if (*end == '\0' && std::isfinite(d)) return d;
  }
  return s;
}

// A JSON object as key/value_json items, the layout W&B's config, history and summary items share.
template <class Items>
void add_json_items(Items* items, const json& obj) {
  for (const auto& [k, v] : obj.items()) {
    auto* item = items->Add();
    item->set_key(k);
    item->set_value_json(v.dump());
  }
}

void set_time(wbpb::Timestamp* ts, double t) {
  ts->set_seconds(static_cast<int64_t>(t));
  ts->set_nanos(static_cast<int32_t>((t - std::floor(t)) * 1e9));
}

bool logged_in() {
  if (!env("WANDB_API_KEY").empty()) return true;
  std::ifstream netrc(fs::path(env("HOME")) / ".netrc");
  std::string text((std::istreambuf_iterator<char>(netrc)), std::istreambuf_iterator<char>());
  return text.find("wandb") != std::string::npos;
}

std::string shell_quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

std::string safe_name(std::string s) {
  for (char& c : s)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '.') c = '_';
  return s;
}

void append_text(const fs::path& path, const std::string& text) {
  std::FILE* f = std::fopen(path.c_str(), "ab");
  if (!f) throw RuntimeError(path.string() + ": cannot open for appending");
  bool ok = std::fwrite(text.data(), 1, text.size(), f) == text.size();
  ok = std::fclose(f) == 0 && ok;
  if (!ok) throw RuntimeError(path.string() + ": write failed (disk full?)");
}

void copy_atomic(const fs::path& from, const fs::path& to) {
  fs::create_directories(to.parent_path());
  auto tmp = to;
  tmp += ".tmp";
  fs::copy_file(from, tmp, fs::copy_options::overwrite_existing);
  fs::rename(tmp, to);
}

}  // namespace

WandbSettings resolve_wandb_settings(const Config& cfg, const RunInfo& info) {
  const auto& w = cfg.logging.wandb;
  WandbSettings s;
  auto mode_of = [](std::string m, const std::string& where) {
    if (m == "dryrun") m = "offline";
    if (m == "run") m = "online";
    if (m != "online" && m != "offline" && m != "disabled")
      throw UsageError(where + ": unknown W&B mode '" + m + "' (expected online, offline or disabled)");
    return m;
  };
  s.mode = mode_of(w.mode, "logging.wandb.mode");
  if (!env("WANDB_MODE").empty()) s.mode = mode_of(env("WANDB_MODE"), "WANDB_MODE");
  s.root = env("WANDB_DIR").empty() ? fs::path(cfg.logging.log_dir) : fs::path(env("WANDB_DIR"));
  s.project = env("WANDB_PROJECT").empty() ? cfg.logging.project_name : env("WANDB_PROJECT");
  s.entity = env("WANDB_ENTITY").empty() ? w.entity : env("WANDB_ENTITY");
  s.group = env("WANDB_RUN_GROUP").empty() ? cfg.logging.experiment_name : env("WANDB_RUN_GROUP");
  s.name = info.run_name.empty() ? info.run_dir.filename().string() : info.run_name;
  s.notes = w.notes;
  s.job_type = info.job_type;
  s.tags = w.tags;
  std::stringstream extra(env("WANDB_TAGS"));
  std::string tag;
  while (std::getline(extra, tag, ',')) {
    tag = trim(tag);
    if (!tag.empty() && std::find(s.tags.begin(), s.tags.end(), tag) == s.tags.end()) s.tags.push_back(tag);
  }
  s.save_code = w.save_code;
  s.save_model = w.save_model;
  s.stats_interval = w.stats_interval;
  if (!(s.stats_interval >= 0))
    throw UsageError("logging.wandb.stats_interval must be >= 0 seconds (0: no system metrics)");
  return s;
}

WandbLogger::WandbLogger(const WandbSettings& s, const RunInfo& info)
    : s_(s), state_path_(info.run_dir / "wandb_run.json"), start_(std::chrono::steady_clock::now()) {
  start_unix_ = unix_now();
  try {
    json st;
    if (info.resumed && fs::exists(state_path_)) st = json::parse(read_file(state_path_), nullptr, false);
    if (st.is_object() && st.contains("id")) {
      id_ = st.value("id", "");
      fs::path old = st.value("dir", "");
      auto log_path = old / ("run-" + id_ + ".wandb");
      // Back to the end of the checkpoint's epoch when one was recorded (a kill after it logged more); else the
      // last record written.
      if (st.contains("epochs") && st["epochs"].is_object()) epoch_points_ = st["epochs"];
      const std::string at = std::to_string(info.resume_epoch);
      if (info.resume_epoch >= 0 && info.resume_batch == 0 && epoch_points_.contains(at)) {
        const json pt = epoch_points_[at];
        for (const char* k : {"offset", "step", "num", "runtime", "summary"})
          if (pt.contains(k)) st[k] = pt[k];
      }
      for (auto it = epoch_points_.begin(); it != epoch_points_.end();) {
        int e = -1;
        try {
          e = std::stoi(it.key());
        } catch (const std::exception&) {
        }
        if (info.resume_epoch >= 0 && e > info.resume_epoch)
          it = epoch_points_.erase(it);
        else
          ++it;
      }
      uint64_t offset = st.value("offset", uint64_t(0));
      std::error_code ec;
      if (offset >= 7 && fs::file_size(log_path, ec) >= offset && !ec) {
        dir_ = old;
        reopened_ = true;
        step_ = st.value("step", int64_t(0));
        num_ = st.value("num", int64_t(0));
        runtime_before_ = st.value("runtime", 0.0);
        start_unix_ = st.value("start_unix", start_unix_);
        for (const auto& f : st.value("files", json::array())) listed_files_.insert(f.get<std::string>());
        summary_ = st.value("summary", json::object());
        fs::remove(fs::path(log_path.string() + ".synced"), ec);  // new records need a new upload
        log_ = std::make_unique<WandbLogWriter>(log_path, offset);
      }
    }
    if (id_.empty()) id_ = new_run_id();
    if (!reopened_) {
      dir_ = s_.root / "wandb" / ("offline-run-" + format_unix_time(start_unix_, "%Y%m%d_%H%M%S", false) + "-" + id_);
      fs::create_directories(dir_ / "files");
      log_ = std::make_unique<WandbLogWriter>(dir_ / ("run-" + id_ + ".wandb"));
    }
    fs::create_directories(dir_ / "files");
    resume_offset_ = log_->offset();
    save_state(false);
  } catch (const fs::filesystem_error& e) {
    throw RuntimeError(std::string("W&B run folder under ") + (s_.root / "wandb").string() +
                       " cannot be written: " + e.what());
  }
}

WandbLogger::~WandbLogger() {
  // Destroyed without run_end (an exception skipped it): the uploader would wait for an exit record for ever.
  if (live_sync_ && live_sync_->running()) {
    live_sync_.reset();
    console::warn("W&B live upload stopped before the run ended; upload the rest with: " + sync_command());
  }
}

std::string WandbLogger::sync_command() const { return "wandb sync " + shell_quote(dir_.string()); }

// `wandb beta sync --live` (wandb 0.24.0, 2026-01) reads the transaction log as it grows, retrying at its end until
// the exit record arrives, and prints "View run at <url>" once the run exists on the server. Older CLIs lack the
// option and get `wandb sync` at the end; the CLI's own --help says which, a version number would only guess.
void WandbLogger::start_live_sync() {
  if (s_.mode != "online" || live_sync_ || !on_path("wandb") || !logged_in()) return;
  ChildStatus probe;
  std::string usage = run_and_capture({"wandb", "beta", "sync", "--help"}, 60, &probe);
  if (!probe.ok() || usage.find("--live") == std::string::npos) return;
  try {
    live_sync_ = std::make_unique<ChildProcess>(
        std::vector<std::string>{"wandb", "beta", "sync", "--live", dir_.string()},
        [](const std::string& line) { std::cerr << line + "\n" << std::flush; });  // one write per line
  } catch (const RuntimeError& e) {
    console::warn(std::string("cannot start the W&B live upload (") + e.what() + "); uploading at the end instead");
  }
}

double WandbLogger::runtime() const {
  return runtime_before_ + std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
}

void WandbLogger::append(const std::string& record_bytes, bool keep_as_resume_point) {
  log_->write(record_bytes);
  log_->flush();
  if (keep_as_resume_point) {
    resume_offset_ = log_->offset();
    save_state(false);
  }
}

void WandbLogger::save_state(bool finished) {
  json st{{"id", id_},          {"dir", dir_.string()}, {"step", step_},          {"num", num_},
          {"offset", resume_offset_}, {"runtime", runtime()}, {"start_unix", start_unix_},
          {"finished", finished}, {"files", listed_files_}, {"summary", summary_}, {"epochs", epoch_points_}};
  write_file_atomic(state_path_, st.dump(1) + "\n");
}

void WandbLogger::add_file(const std::string& rel, int policy, int type) {
  if (!listed_files_.insert(rel).second) return;
  wbpb::Record r;
  r.set_num(++num_);
  auto* f = r.mutable_files()->add_files();
  f->set_path(rel);
  f->set_policy(policy);
  f->set_type(type);
  append(r.SerializeAsString());
}

void WandbLogger::history(json row) {
  double t = unix_now();
  row["_step"] = step_;
  row["_runtime"] = runtime();
  row["_timestamp"] = t;
  wbpb::Record r;
  r.set_num(++num_);
  auto* h = r.mutable_history();
  for (const auto& [k, v] : row.items()) {
    auto* item = h->add_item();
    item->set_key(k);
    item->set_value_json(v.dump());
    if (k[0] != '_') summary_[k] = v;
  }
  h->mutable_step()->set_num(step_);
  ++step_;
  append(r.SerializeAsString());
}

void WandbLogger::run_start(const RunInfo& info) {
  std::lock_guard<std::mutex> lk(mu_);
  json config = yaml_to_json(info.config_yaml.empty() ? YAML::Node() : YAML::Load(info.config_yaml));
  if (!config.is_object()) config = json::object();
  wbpb::Record cr;
  wbpb::ConfigRecord* crec = nullptr;
  if (!reopened_) {
    wbpb::Record h;
    h.set_num(++num_);
    h.mutable_header()->mutable_version_info()->set_producer(std::string("vyolo/") + VYOLO_VERSION);
    append(h.SerializeAsString());
    cr.set_num(++num_);
    auto* run = cr.mutable_run();
    run->set_run_id(id_);
    run->set_entity(s_.entity);
    run->set_project(s_.project);
    run->set_run_group(s_.group);
    run->set_job_type(s_.job_type);
    run->set_display_name(s_.name);
    run->set_notes(s_.notes);
    for (const auto& t : s_.tags) run->add_tags(t);
    run->set_host(hostname());
    set_time(run->mutable_start_time(), start_unix_);
    crec = run->mutable_config();
  } else {
    cr.set_num(++num_);  // a resumed run may have changed its config (more epochs)
    crec = cr.mutable_config();
  }
  add_json_items(crec->mutable_update(), config);
  append(cr.SerializeAsString());

  // files/config.yaml in W&B's layout ({key: {desc, value}}); the uploader regenerates it, users read it.
  YAML::Node tree = info.config_yaml.empty() ? YAML::Node() : YAML::Load(info.config_yaml);
  YAML::Emitter out;
  out << YAML::BeginMap << YAML::Key << "wandb_version" << YAML::Value << 1;
  if (tree.IsMap())
    for (const auto& kv : tree)
      out << YAML::Key << kv.first << YAML::Value << YAML::BeginMap << YAML::Key << "desc" << YAML::Value
          << YAML::Null << YAML::Key << "value" << YAML::Value << kv.second << YAML::EndMap;
  out << YAML::EndMap;
  write_file_atomic(dir_ / "files" / "config.yaml", std::string(out.c_str()) + "\n");

  // The program's arguments as typed (one entry per argv element, so an override with spaces stays whole).
  std::vector<std::string> args = info.args;
  if (args.empty()) {
    std::istringstream words(info.command_line);
    for (std::string a; words >> a;) args.push_back(a);
    if (!args.empty() && args[0] == "vyolo") args.erase(args.begin());
  }
  std::error_code ec;
  json meta = machine_facts();
  meta["host"] = hostname();
  meta["startedAt"] = format_unix_time(start_unix_, "%Y-%m-%dT%H:%M:%SZ", true);
  meta["program"] = "vyolo";
  meta["args"] = args;
  meta["executable"] = fs::read_symlink("/proc/self/exe", ec).string();
  meta["root"] = fs::current_path(ec).string();
  write_file_atomic(dir_ / "files" / "wandb-metadata.json", meta.dump(2) + "\n");
  add_file("wandb-metadata.json", kNow, kWandb);
  if (!reopened_) append_text(dir_ / "files" / "output.log", "");
  add_file("output.log", kEnd, kWandb);
  if (s_.save_code) {
    write_file_atomic(dir_ / "files" / "code" / "config.yaml", info.config_yaml);
    write_file_atomic(dir_ / "files" / "code" / "command_line.txt", info.command_line + "\n");
    add_file("code/config.yaml", kNow, kOther);
    add_file("code/command_line.txt", kNow, kOther);
  }
  start_live_sync();
  if (s_.stats_interval > 0 && !monitor_)
    monitor_ = std::make_unique<SystemMonitor>(s_.stats_interval,
                                               [this](const std::map<std::string, double>& s) { system_stats(s); });
}

void WandbLogger::system_stats(const std::map<std::string, double>& sample) {
  std::lock_guard<std::mutex> lk(mu_);
  wbpb::Record sr;
  sr.set_num(++num_);
  auto* stats = sr.mutable_stats();
  stats->set_stats_type(0);  // SYSTEM
  set_time(stats->mutable_timestamp(), unix_now());
  for (const auto& [k, v] : sample) {
    auto* item = stats->add_item();
    item->set_key(k);
    item->set_value_json(number(v).dump());
  }
  append(sr.SerializeAsString(), false);
}

void WandbLogger::output_line(const std::string& line) {
  append_text(dir_ / "files" / "output.log", line + "\n");
  wbpb::Record r;
  r.set_num(++num_);
  auto* o = r.mutable_output_raw();
  o->set_output_type(1);  // STDOUT
  set_time(o->mutable_timestamp(), unix_now());
  o->set_line(line + "\n");
  append(r.SerializeAsString(), false);
}

void WandbLogger::scalars(int64_t step, const std::map<std::string, double>& values) {
  std::lock_guard<std::mutex> lk(mu_);
  json row = json::object();
  for (const auto& [k, v] : values) row[k] = number(v);
  row["trainer/global_step"] = step;
  history(std::move(row));
}

void WandbLogger::image(int64_t step, const std::string& tag, const cv::Mat& bgr) {
  std::lock_guard<std::mutex> lk(mu_);
  const std::string bytes = png_bytes(bgr, tag);
  std::string digest = sha256_hex(bytes);
  std::string rel = "media/images/" + safe_name(tag) + "_" + std::to_string(step_) + "_" + digest.substr(0, 20) + ".png";
  write_file_atomic(dir_ / "files" / rel, bytes);
  add_file(rel, kNow, kMedia);
  json img{{"_type", "image-file"}, {"path", rel},          {"sha256", digest}, {"size", bytes.size()},
           {"width", bgr.cols},     {"height", bgr.rows}, {"format", "png"}};
  history(json{{tag, img}, {"trainer/global_step", step}});
}

void WandbLogger::epoch_end(int epoch, const std::map<std::string, double>& row) {
  std::lock_guard<std::mutex> lk(mu_);
  json h = json::object();
  for (const auto& [k, v] : row) h[k] = number(v);
  h["epoch"] = epoch;
  history(h);

  // Running summary, so a run killed later still shows its latest metrics.
  wbpb::Record sum;
  sum.set_num(++num_);
  add_json_items(sum.mutable_summary()->mutable_update(), h);
  append(sum.SerializeAsString(), false);
  epoch_points_[std::to_string(epoch)] = {
      {"offset", log_->offset()}, {"step", step_}, {"num", num_}, {"runtime", runtime()}, {"summary", summary_}};
  resume_offset_ = log_->offset();
  save_state(false);
  write_summary_file();
  output_line(format_epoch_line(epoch, 0, row));
}

void WandbLogger::file(const fs::path& path, const std::string& kind) {
  std::lock_guard<std::mutex> lk(mu_);
  if (kind == "model" && !s_.save_model) return;
  if (kind == "code" && !s_.save_code) return;
  std::string rel = (kind == "code" ? "code/" : "") + path.filename().string();
  try {
    copy_atomic(path, dir_ / "files" / rel);
  } catch (const fs::filesystem_error& e) {
    throw RuntimeError(path.string() + ": cannot copy into the W&B run: " + e.what());
  }
  add_file(rel, kind == "code" ? kNow : kEnd, kOther);
}

void WandbLogger::write_summary_file() {
  json s = summary_;
  s["_step"] = step_ > 0 ? step_ - 1 : 0;
  s["_runtime"] = runtime();
  s["_timestamp"] = unix_now();
  s["_wandb"] = {{"runtime", static_cast<int64_t>(runtime())}};
  write_file_atomic(dir_ / "files" / "wandb-summary.json", s.dump(1) + "\n");
}

void WandbLogger::run_end(const std::map<std::string, double>& final_metrics, int exit_code) {
  monitor_.reset();  // outside the lock: its thread may be waiting for it
  std::lock_guard<std::mutex> lk(mu_);
  // The SDK's summary is the last history value of each key; the final model's metrics get keys of their own.
  for (const auto& [k, v] : final_metrics) summary_["final/" + k] = number(v);
  save_state(true);  // a resume cuts the file back to here and drops the end records below
  double rt = runtime();
  wbpb::Record sum;
  sum.set_num(++num_);
  auto* su = sum.mutable_summary();
  add_json_items(su->mutable_update(), summary_);
  add_json_items(su->mutable_update(),
                 json{{"_step", step_ > 0 ? step_ - 1 : 0}, {"_runtime", rt}, {"_timestamp", unix_now()}});
  auto* wr = su->add_update();
  wr->add_nested_key("_wandb");
  wr->add_nested_key("runtime");
  wr->set_value_json(json(static_cast<int64_t>(rt)).dump());
  append(sum.SerializeAsString(), false);

  wbpb::Record ex;
  ex.set_num(++num_);
  ex.mutable_exit()->set_exit_code(exit_code);
  ex.mutable_exit()->set_runtime(static_cast<int32_t>(rt));
  append(ex.SerializeAsString(), false);
  wbpb::Record fin;
  fin.set_num(++num_);
  fin.mutable_final();
  append(fin.SerializeAsString(), false);
  write_summary_file();

  const std::string cmd = sync_command();
  if (live_sync_) {
    // Every record is in the file, ending with exit: the uploader sees the end and finishes on its own.
    std::cout << "vyolo: waiting for the W&B live upload to finish (at most " << live_sync_wait_ << " s)" << std::endl;
    ChildStatus st = live_sync_->wait_for(live_sync_wait_);
    live_sync_.reset();
    if (st.ok())
      std::cout << "vyolo: W&B run uploaded; the local copy stays in " << dir_.string() << std::endl;
    else
      console::warn("the W&B live upload (`wandb beta sync --live`) failed: " + st.describe() +
                    "; the run is complete on disk, upload it with: " + cmd);
  } else if (s_.mode != "online") {
    std::cout << "vyolo: W&B run saved offline; upload it with: " << cmd << std::endl;
  } else if (!on_path("wandb")) {
    console::warn("W&B mode online, but the wandb command is not installed; the run is saved offline, upload it "
                  "later with: " + cmd);
  } else if (!logged_in()) {
    console::warn("W&B mode online, but not logged in (set WANDB_API_KEY or run `wandb login`); the run is saved "
                  "offline, upload it later with: " + cmd);
  } else {
    std::cout << "vyolo: uploading the W&B run: " << cmd << std::endl;
    // argv straight to the program (no shell between vyolo and wandb); its output goes on to the console.
    ChildProcess sync({"wandb", "sync", dir_.string()}, [](const std::string& line) { std::cout << line << "\n"; });
    const ChildStatus st = sync.wait_for(3600);
    if (!st.ok()) console::warn("`" + cmd + "` failed (" + st.describe() + "); run it again later");
  }
}

}  // namespace vyolo::log
