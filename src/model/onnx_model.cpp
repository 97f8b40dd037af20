#include "model/onnx_model.h"

#include <algorithm>
#include <cctype>
#include <map>
#include <set>

#include <onnx/onnx_pb.h>

#include "common/error.h"

namespace vyolo::model {

namespace {

onnx::ModelProto parse_proto(const std::string& bytes, const std::string& origin) {
  onnx::ModelProto m;
  if (bytes.empty() || !m.ParseFromString(bytes) || !m.has_graph())
    throw RuntimeError(origin + ": not an ONNX model (the file does not parse as an ONNX ModelProto)");
  return m;
}

std::string dims_text(const onnx::ValueInfoProto& v) {
  std::string s;
  if (!v.type().tensor_type().has_shape()) return "?";
  for (const auto& d : v.type().tensor_type().shape().dim())
    s += (s.empty() ? "" : "x") + (d.has_dim_value() ? std::to_string(d.dim_value()) : d.dim_param().empty() ? "?" : d.dim_param());
  return s;
}

bool is_float_tensor(const onnx::ValueInfoProto& v, int rank) {
  const auto& t = v.type();
  return t.has_tensor_type() && t.tensor_type().elem_type() == onnx::TensorProto_DataType_FLOAT &&
         t.tensor_type().has_shape() && t.tensor_type().shape().dim_size() == rank;
}

int64_t dim_or_minus1(const onnx::TensorShapeProto_Dimension& d) { return d.has_dim_value() ? d.dim_value() : -1; }

// Python's int() of a metadata string, RuntimeError naming the key otherwise.
int64_t meta_int(const std::string& v, const std::string& key, const std::string& origin) {
  try {
    size_t used = 0;
    const long long x = std::stoll(v, &used);
    if (used == v.size()) return x;
  } catch (const std::exception&) {
  }
  throw RuntimeError(origin + ": metadata '" + key + "' is not an integer ('" + v + "')");
}

// `[256, 256]`, `(256, 320)` or `256`.
std::vector<int64_t> meta_ints(const std::string& v, const std::string& key, const std::string& origin) {
  std::vector<int64_t> out;
  std::string cur;
  for (char c : v + ",") {
    if (std::isdigit(static_cast<unsigned char>(c))) {
      cur += c;
    } else if (c == ',' || c == ']' || c == ')') {
      if (!cur.empty()) out.push_back(std::stoll(cur));
      cur.clear();
    } else if (c != '[' && c != '(' && c != ' ') {
      throw RuntimeError(origin + ": metadata '" + key + "' is not a list of integers ('" + v + "')");
    }
  }
  if (out.empty()) throw RuntimeError(origin + ": metadata '" + key + "' is empty");
  return out;
}

void append_utf8(std::string& s, uint32_t cp) {
  if (cp < 0x80) {
    s += static_cast<char>(cp);
  } else if (cp < 0x800) {
    s += static_cast<char>(0xC0 | (cp >> 6));
    s += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    s += static_cast<char>(0xE0 | (cp >> 12));
    s += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    s += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    s += static_cast<char>(0xF0 | (cp >> 18));
    s += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    s += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    s += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

// A small reader of the Python literals Ultralytics writes for `names`.
struct PyReader {
  const std::string& s;
  const std::string& origin;
  size_t i = 0;

  [[noreturn]] void fail(const std::string& what) const {
    throw RuntimeError(origin + ": metadata 'names' is not a Python dict of class names (" + what + " at character " +
                       std::to_string(i) + " of '" + s + "')");
  }
  void ws() {
    while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
  }
  bool eat(char c) {
    ws();
    if (i < s.size() && s[i] == c) return ++i, true;
    return false;
  }
  int64_t integer() {
    ws();
    size_t j = i;
    while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i;
    if (j == i) fail("expected a class index");
    return std::stoll(s.substr(j, i - j));
  }
  std::string string() {
    ws();
    if (i >= s.size() || (s[i] != '\'' && s[i] != '"')) fail("expected a quoted name");
    const char q = s[i++];
    std::string out;
    while (i < s.size() && s[i] != q) {
      char c = s[i++];
      if (c != '\\') {
        out += c;
        continue;
      }
      if (i >= s.size()) fail("unfinished escape");
      c = s[i++];
      auto hex = [&](int n) {
        if (i + n > s.size()) fail("short escape");
        uint32_t v = 0;
        for (int k = 0; k < n; ++k) {
          const char h = static_cast<char>(std::tolower(static_cast<unsigned char>(s[i++])));
          if (!std::isxdigit(static_cast<unsigned char>(h))) fail("bad hex escape");
          v = v * 16 + static_cast<uint32_t>(std::isdigit(static_cast<unsigned char>(h)) ? h - '0' : h - 'a' + 10);
        }
        return v;
      };
      switch (c) {
        case 'n': out += '\n'; break;
        case 't': out += '\t'; break;
        case 'r': out += '\r'; break;
        case 'x': append_utf8(out, hex(2)); break;
        case 'u': append_utf8(out, hex(4)); break;
        case 'U': append_utf8(out, hex(8)); break;
        default: out += c;  // \\ \' \"
      }
    }
    if (i >= s.size()) fail("unterminated string");
    ++i;
    return out;
  }
};

}  // namespace

bool is_onnx_path(const std::string& path) {
  if (path.size() < 5) return false;
  std::string ext = path.substr(path.size() - 5);
  std::transform(ext.begin(), ext.end(), ext.begin(), ::tolower);
  return ext == ".onnx";
}

std::string python_str(const std::string& s) {
  // repr(): single quotes unless the text holds ' and no ".
  const char q = s.find('\'') != std::string::npos && s.find('"') == std::string::npos ? '"' : '\'';
  std::string out(1, q);
  for (unsigned char c : s) {
    if (c == '\\' || c == static_cast<unsigned char>(q)) {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c < 0x20 || c == 0x7f) {
      static const char* hexd = "0123456789abcdef";
      out += "\\x";
      out += hexd[c >> 4];
      out += hexd[c & 15];
    } else {
      out += static_cast<char>(c);  // UTF-8 bytes stay as they are, as Python 3 prints printable text
    }
  }
  return out + q;
}

std::string python_names(const std::vector<std::string>& names) {
  std::string s = "{";
  for (size_t i = 0; i < names.size(); ++i) s += (i ? ", " : "") + std::to_string(i) + ": " + python_str(names[i]);
  return s + "}";
}

std::vector<std::string> parse_python_names(const std::string& text, const std::string& origin) {
  PyReader r{text, origin};
  std::vector<std::string> out;
  // Items separated by commas (a trailing one allowed) up to `close`.
  auto items = [&](char close, auto&& item) {
    if (r.eat(close)) return;
    for (;;) {
      item();
      if (r.eat(',')) {
        if (r.eat(close)) return;
        continue;
      }
      if (r.eat(close)) return;
      r.fail(std::string("expected ',' or '") + close + "'");
    }
  };
  if (r.eat('[')) {
    items(']', [&] { out.push_back(r.string()); });
  } else if (r.eat('{')) {
    std::map<int64_t, std::string> m;
    items('}', [&] {
      const int64_t k = r.integer();
      if (!r.eat(':')) r.fail("expected ':'");
      if (!m.emplace(k, r.string()).second) r.fail("repeated class index " + std::to_string(k));
    });
    for (auto& [k, v] : m) {
      if (k != static_cast<int64_t>(out.size())) r.fail("class indices are not 0.." + std::to_string(m.size() - 1));
      out.push_back(v);
    }
  } else {
    r.fail("expected '{' or '['");
  }
  r.ws();
  if (r.i != text.size()) r.fail("unexpected text after the names");
  return out;
}

OnnxInfo inspect_onnx(const std::string& bytes, const std::string& origin) {
  const onnx::ModelProto m = parse_proto(bytes, origin);
  const auto& g = m.graph();
  OnnxInfo info;
  for (const auto& op : m.opset_import())
    if (op.domain().empty() || op.domain() == "ai.onnx") info.opset = static_cast<int>(op.version());
  std::map<std::string, std::string> meta;
  for (const auto& p : m.metadata_props()) meta[p.key()] = p.value();
  info.spec.metadata = meta;

  // Which file this is, before its shapes: a graph without the detection metadata is not ours to run.
  const std::string not_ours = origin + ": not a YOLOv8 detection model exported by vyolo or Ultralytics";
  if (!meta.count("names") || !meta.count("task"))
    throw RuntimeError(not_ours + " (no 'names'/'task' metadata; export one with `vyolo export weights=W format=onnx`)");
  if (meta.at("task") != "detect")
    throw RuntimeError(not_ours + " (metadata task='" + meta.at("task") + "'; only detection models run here)");
  if (meta.count("stride") && meta_int(meta.at("stride"), "stride", origin) != 32)
    throw RuntimeError(origin + ": metadata stride=" + meta.at("stride") + "; YOLOv8 detection models have stride 32");

  std::set<std::string> inits;
  for (const auto& t : g.initializer()) inits.insert(t.name());
  const onnx::ValueInfoProto* in = nullptr;
  for (const auto& v : g.input())
    if (!inits.count(v.name())) {
      if (in) throw RuntimeError(not_ours + " (more than one input)");
      in = &v;
    }
  if (!in || !is_float_tensor(*in, 4))
    throw RuntimeError(not_ours + " (expected one float input of shape B x C x H x W" +
                       (in ? ", got '" + in->name() + "' " + dims_text(*in) : std::string()) + ")");
  if (g.output_size() != 1 || !is_float_tensor(g.output(0), 3))
    throw RuntimeError(not_ours + " (expected one float output of shape B x (4 + classes) x anchors" +
                       (g.output_size() ? ", got '" + g.output(0).name() + "' " + dims_text(g.output(0)) : std::string()) +
                       ")");
  info.input_name = in->name();
  info.output_name = g.output(0).name();
  for (int k = 0; k < 4; ++k) info.input_dims[size_t(k)] = dim_or_minus1(in->type().tensor_type().shape().dim(k));
  if (info.input_dims[1] != 1 && info.input_dims[1] != 3)
    throw RuntimeError(not_ours + " (input '" + in->name() + "' is " + dims_text(*in) + ": expected 1 or 3 channels)");
  for (int k : {2, 3})
    if (info.input_dims[size_t(k)] >= 0 && info.input_dims[size_t(k)] % 32 != 0)
      throw RuntimeError(origin + ": input '" + in->name() + "' is " + dims_text(*in) +
                         ": image sides must be multiples of the stride 32");
  const int64_t no = dim_or_minus1(g.output(0).type().tensor_type().shape().dim(1));
  if (no < 5) throw RuntimeError(not_ours + " (output '" + info.output_name + "' is " + dims_text(g.output(0)) + ")");

  auto& s = info.spec;
  s.num_classes = static_cast<int>(no - 4);
  s.input_channels = static_cast<int>(info.input_dims[1]);
  s.names = parse_python_names(meta.at("names"), origin);
  if (static_cast<int>(s.names.size()) != s.num_classes)
    throw RuntimeError(origin + ": output '" + info.output_name + "' has " + std::to_string(no) + " channels (4 box + " +
                       std::to_string(s.num_classes) + " classes) but metadata 'names' lists " +
                       std::to_string(s.names.size()) + " class(es)");
  if (meta.count("channels") && meta_int(meta.at("channels"), "channels", origin) != s.input_channels)
    throw RuntimeError(origin + ": metadata channels=" + meta.at("channels") + " but input '" + info.input_name +
                       "' is " + dims_text(*in));
  static const std::set<std::string> scales = {"yolov8n", "yolov8s", "yolov8m", "yolov8l", "yolov8x"};
  if (meta.count("variant") && scales.count(meta.at("variant"))) s.variant = meta.at("variant");
  // img_size: the training size (vyolo's key; volume slicing needs it), else the export size.
  if (meta.count("img_size") && !meta.at("img_size").empty()) {
    s.img_size = static_cast<int>(meta_int(meta.at("img_size"), "img_size", origin));
  } else if (meta.count("imgsz")) {
    s.img_size = static_cast<int>(meta_ints(meta.at("imgsz"), "imgsz", origin).front());
  } else if (info.input_dims[2] > 0) {
    s.img_size = static_cast<int>(info.input_dims[2]);
  }
  return info;
}

std::string specialise_onnx(const std::string& bytes, const std::array<int64_t, 4>& dims, const std::string& origin) {
  onnx::ModelProto m = parse_proto(bytes, origin);
  auto* g = m.mutable_graph();
  std::set<std::string> inits;
  for (const auto& t : g->initializer()) inits.insert(t.name());
  for (auto& v : *g->mutable_input()) {
    if (inits.count(v.name())) continue;
    auto* shape = v.mutable_type()->mutable_tensor_type()->mutable_shape();
    if (shape->dim_size() != 4) throw RuntimeError(origin + ": input '" + v.name() + "' is not 4-D");
    for (int k = 0; k < 4; ++k) {
      auto* d = shape->mutable_dim(k);
      if (d->has_dim_value() && d->dim_value() != dims[size_t(k)])
        throw RuntimeError(origin + ": input '" + v.name() + "' has a fixed size " + std::to_string(d->dim_value()) +
                           " in dimension " + std::to_string(k) + ", not " + std::to_string(dims[size_t(k)]));
      d->clear_dim_param();
      d->set_dim_value(dims[size_t(k)]);
    }
  }
  g->clear_value_info();  // inferred with symbolic sizes; OpenCV does not read them
  std::string out;
  if (!m.SerializeToString(&out)) throw RuntimeError(origin + ": cannot serialise the specialised model");
  return out;
}

}  // namespace vyolo::model
