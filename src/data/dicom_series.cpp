// DICOM series IO through GDCM (decodes JPEG 2000 and JPEG through its codecs; RLE is refused by dicom_check).
#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <map>
#include <random>
#include <sstream>

#include <gdcmAttribute.h>
#include <gdcmImageReader.h>
#include <gdcmImageWriter.h>
#include <gdcmReader.h>
#include <gdcmTrace.h>
#include <gdcmUIDGenerator.h>

#include "common/error.h"
#include "common/fs_util.h"
#include "data/dicom_check.h"
#include "data/volume.h"

namespace fs = std::filesystem;

namespace vyolo {

namespace {

struct Slice {
  fs::path file;
  std::string series;
  double pos = 0;
  std::array<double, 3> ipp{};
  std::array<double, 6> iop{};
  std::array<double, 2> spacing{};
  unsigned cols = 0, rows = 0;
  std::vector<float> hu;
};

std::string tag_string(const gdcm::DataSet& ds, uint16_t g, uint16_t e) {
  const gdcm::Tag t(g, e);
  if (!ds.FindDataElement(t)) return {};
  const gdcm::ByteValue* bv = ds.GetDataElement(t).GetByteValue();
  if (!bv) return {};
  std::string s(bv->GetPointer(), bv->GetLength());
  while (!s.empty() && (s.back() == '\0' || s.back() == ' ')) s.pop_back();
  return s;
}

struct NeededTag {
  uint16_t group, element;
  const char* name;
};
// What an image needs (without them GDCM cannot make one), and what its place in the volume needs.
constexpr NeededTag kImageTags[] = {
    {0x0028, 0x0010, "Rows"}, {0x0028, 0x0011, "Columns"}, {0x0028, 0x0100, "BitsAllocated"},
    {0x7FE0, 0x0010, "PixelData"}};
constexpr NeededTag kGeometryTags[] = {{0x0020, 0x0032, "ImagePositionPatient"},
                                       {0x0020, 0x0037, "ImageOrientationPatient"}};

std::string tag_name(uint16_t g, uint16_t e) {
  char b[16];
  std::snprintf(b, sizeof b, "(%04X,%04X)", g, e);
  return b;
}

// Which of the tags an image needs a file lacks, for the message when GDCM cannot read it as an image.
std::string missing_image_tags(const std::string& bytes) {
  std::istringstream in(bytes);
  gdcm::Reader r;
  r.SetStream(in);
  if (!r.Read()) return "GDCM cannot parse it";
  const gdcm::DataSet& ds = r.GetFile().GetDataSet();
  std::string missing;
  for (const NeededTag& t : kImageTags)
    if (!ds.FindDataElement(gdcm::Tag(t.group, t.element)))
      missing += std::string(missing.empty() ? "no " : ", ") + t.name + " " + tag_name(t.group, t.element);
  return missing.empty() ? "GDCM cannot decode it" : missing;
}

template <typename T>
void to_float(const char* buf, size_t n, double slope, double inter, float* out) {
  const T* p = reinterpret_cast<const T*>(buf);
  for (size_t i = 0; i < n; ++i) out[i] = static_cast<float>(p[i] * slope + inter);
}

std::array<double, 3> cross(const std::array<double, 6>& d) {
  return {d[1] * d[5] - d[2] * d[4], d[2] * d[3] - d[0] * d[5], d[0] * d[4] - d[1] * d[3]};
}

}  // namespace

Volume read_dicom_series(const fs::path& dir) {
  const std::string name = dir.string();
  if (!fs::is_directory(dir)) throw RuntimeError(name + ": not a DICOM series folder");
  std::vector<fs::path> files;
  for (auto& e : fs::directory_iterator(dir))
    if (e.is_regular_file()) files.push_back(e.path());
  std::sort(files.begin(), files.end());
  gdcm::Trace::WarningOff();  // e.g. "no PhotometricInterpretation, default to MONOCHROME2" on every file
  std::vector<Slice> slices;
  for (const auto& f : files) {
    // Every file that is meant as a slice (a .dcm name, or Rows / Pixel Data in it) must be read, or the series is
    // reported: a slice dropped in silence would shift the volume. Others (README, DICOMDIR, ...) are left out.
    // GDCM sees only well-formed files: it aborts on assertions for some corrupt ones (dicom_check.h).
    std::string ext = f.extension().string();
    std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
    const std::string bytes = read_file(f);
    std::string why;
    DicomInfo info;
    const DicomCheck check = check_dicom_structure(bytes, &why, &info);
    if (check == DicomCheck::Malformed) throw RuntimeError(f.string() + ": corrupt DICOM file (" + why + ")");
    if (check == DicomCheck::NotDicom) {
      if (ext == ".dcm")
        throw RuntimeError(f.string() + (bytes.empty() ? ": empty file" : ": not a DICOM file (" + why + ")") +
                           " in a DICOM series folder");
      continue;
    }
    std::istringstream stream(bytes);
    gdcm::ImageReader r;
    r.SetStream(stream);
    if (!r.Read()) {
      if (ext == ".dcm" || info.image)
        throw RuntimeError(f.string() + ": not readable as a DICOM image (" + missing_image_tags(bytes) + ")");
      continue;  // not an image (DICOMDIR, a structured report, ...)
    }
    const gdcm::Image& im = r.GetImage();
    const gdcm::DataSet& ds = r.GetFile().GetDataSet();
    Slice s;
    s.file = f;
    s.series = tag_string(ds, 0x0020, 0x000E);
    // Tags the volume's geometry and pixels depend on: GDCM would put in defaults (origin 0, identity orientation,
    // 1 mm pixels), which silently misplaces or misscales the slice.
    for (const NeededTag& t : kImageTags)
      if (!ds.FindDataElement(gdcm::Tag(t.group, t.element)))
        throw RuntimeError(f.string() + ": no " + t.name + " " + tag_name(t.group, t.element));
    for (const NeededTag& t : kGeometryTags)
      if (!ds.FindDataElement(gdcm::Tag(t.group, t.element)))
        throw RuntimeError(f.string() + ": no " + t.name + " " + tag_name(t.group, t.element) +
                           " (the slice cannot be placed in the volume)");
    if (!ds.FindDataElement(gdcm::Tag(0x0028, 0x0030)) && !ds.FindDataElement(gdcm::Tag(0x0018, 0x1164)))
      throw RuntimeError(f.string() + ": no PixelSpacing (0028,0030) (required for the slice's size in mm)");
    if (im.GetNumberOfDimensions() != 2 && im.GetDimension(2) > 1)
      throw RuntimeError(f.string() + ": multi-frame DICOM images are not supported");
    if (im.GetPixelFormat().GetSamplesPerPixel() != 1)
      throw RuntimeError(f.string() + ": not a grey-scale image (samples per pixel " +
                         std::to_string(im.GetPixelFormat().GetSamplesPerPixel()) + ")");
    s.cols = im.GetDimension(0);
    s.rows = im.GetDimension(1);
    for (int i = 0; i < 3; ++i) s.ipp[i] = im.GetOrigin(i);
    for (int i = 0; i < 6; ++i) s.iop[i] = im.GetDirectionCosines(i);
    s.spacing = {im.GetSpacing(0), im.GetSpacing(1)};
    const size_t n = static_cast<size_t>(s.cols) * s.rows;
    // The header alone sets the size GDCM decodes into: bound it and check it against the pixel data before
    // allocating (CT slices are 512 x 512 or 1024 x 1024 of 2 bytes).
    const size_t px = im.GetPixelFormat().GetPixelSize();
    if (s.cols == 0 || s.rows == 0 || n > (size_t(1) << 26) || im.GetBufferLength() > (size_t(1) << 31))
      throw RuntimeError(f.string() + ": implausible slice size " + std::to_string(s.cols) + " x " +
                         std::to_string(s.rows));
    if (!info.encapsulated && info.pixel_bytes < n * px)
      throw RuntimeError(f.string() + ": pixel data holds " + std::to_string(info.pixel_bytes) + " bytes, " +
                         std::to_string(s.cols) + " x " + std::to_string(s.rows) + " pixels of " +
                         std::to_string(px) + " bytes need " + std::to_string(n * px));
    std::vector<char> buf(im.GetBufferLength());
    if (buf.size() < n * px) throw RuntimeError(f.string() + ": pixel data shorter than its dimensions");
    if (!im.GetBuffer(buf.data())) throw RuntimeError(f.string() + ": cannot decode pixel data");
    s.hu.resize(n);
    const double slope = im.GetSlope(), inter = im.GetIntercept();
    switch (im.GetPixelFormat().GetScalarType()) {
      case gdcm::PixelFormat::UINT8: to_float<uint8_t>(buf.data(), n, slope, inter, s.hu.data()); break;
      case gdcm::PixelFormat::INT8: to_float<int8_t>(buf.data(), n, slope, inter, s.hu.data()); break;
      case gdcm::PixelFormat::UINT16: to_float<uint16_t>(buf.data(), n, slope, inter, s.hu.data()); break;
      case gdcm::PixelFormat::INT16: to_float<int16_t>(buf.data(), n, slope, inter, s.hu.data()); break;
      case gdcm::PixelFormat::UINT32: to_float<uint32_t>(buf.data(), n, slope, inter, s.hu.data()); break;
      case gdcm::PixelFormat::INT32: to_float<int32_t>(buf.data(), n, slope, inter, s.hu.data()); break;
      case gdcm::PixelFormat::FLOAT32: to_float<float>(buf.data(), n, slope, inter, s.hu.data()); break;
      case gdcm::PixelFormat::FLOAT64: to_float<double>(buf.data(), n, slope, inter, s.hu.data()); break;
      default: throw RuntimeError(f.string() + ": unsupported DICOM pixel format");
    }
    slices.push_back(std::move(s));
  }
  if (slices.empty()) throw RuntimeError(name + ": no readable DICOM image in the folder");
  const Slice& s0 = slices[0];
  for (const auto& s : slices) {
    if (s.series != s0.series)
      throw RuntimeError(s.file.string() + ": " +
                         (s.series.empty() ? std::string("no SeriesInstanceUID")
                                           : "SeriesInstanceUID " + s.series) +
                         ", but " + s0.file.string() + " has " +
                         (s0.series.empty() ? std::string("none") : s0.series) +
                         " (mixed DICOM series in one folder)");
    if (s.cols != s0.cols || s.rows != s0.rows)
      throw RuntimeError(s.file.string() + ": " + std::to_string(s.cols) + " x " + std::to_string(s.rows) +
                         " pixels, but " + s0.file.string() + " has " + std::to_string(s0.cols) + " x " +
                         std::to_string(s0.rows) + " (slices of one series share their size)");
    for (int i = 0; i < 6; ++i)
      if (std::abs(s.iop[i] - s0.iop[i]) > 1e-3)
        throw RuntimeError(s.file.string() + ": orientation differs from " + s0.file.string() +
                           " (slices of one series share their orientation)");
  }
  const auto normal = cross(s0.iop);
  for (auto& s : slices) s.pos = s.ipp[0] * normal[0] + s.ipp[1] * normal[1] + s.ipp[2] * normal[2];
  std::stable_sort(slices.begin(), slices.end(), [](const Slice& a, const Slice& b) { return a.pos < b.pos; });
  double dz = 1.0;
  if (slices.size() > 1) {
    for (size_t i = 1; i < slices.size(); ++i)
      if (slices[i].pos - slices[i - 1].pos < 1e-4)
        throw RuntimeError(name + ": two slices at the same position (" + slices[i - 1].file.filename().string() +
                           ", " + slices[i].file.filename().string() + ")");
    dz = (slices.back().pos - slices.front().pos) / static_cast<double>(slices.size() - 1);
    for (size_t i = 1; i < slices.size(); ++i)
      if (std::abs(slices[i].pos - slices[i - 1].pos - dz) > 0.05 * dz + 1e-3)
        throw RuntimeError(name + ": irregular slice spacing near " + slices[i].file.filename().string() +
                           " (a slice missing?)");
  }
  Volume v;
  v.dims = {static_cast<int>(s0.cols), static_cast<int>(s0.rows), static_cast<int>(slices.size())};
  v.spacing = {s0.spacing[0], s0.spacing[1], dz};
  v.affine = Mat4{};
  for (int r = 0; r < 3; ++r) {
    v.affine[r][0] = s0.iop[r] * s0.spacing[0];
    v.affine[r][1] = s0.iop[3 + r] * s0.spacing[1];
    v.affine[r][2] = normal[r] * dz;
    v.affine[r][3] = slices.front().ipp[r];
  }
  v.affine[3][3] = 1;
  const size_t plane = static_cast<size_t>(s0.cols) * s0.rows;
  v.voxels.resize(plane * slices.size());
  for (size_t k = 0; k < slices.size(); ++k)
    std::copy(slices[k].hu.begin(), slices[k].hu.end(), v.voxels.begin() + static_cast<long>(k * plane));
  return v;
}

void write_dicom_series(const Volume& v, const fs::path& dir, const std::string& series_uid) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  gdcm::Trace::WarningOff();
  gdcm::UIDGenerator gen;
  const std::string series = series_uid.empty() ? gen.Generate() : series_uid;
  const std::string study = gen.Generate();
  const double sx = v.spacing[0], sy = v.spacing[1], sz = v.spacing[2];
  double dircos[6];
  for (int r = 0; r < 3; ++r) {
    dircos[r] = v.affine[r][0] / sx;
    dircos[3 + r] = v.affine[r][1] / sy;
  }
  const size_t plane = static_cast<size_t>(v.dims[0]) * v.dims[1];
  const double intercept = -1024.0;
  std::random_device rd;
  for (int k = 0; k < v.dims[2]; ++k) {
    gdcm::ImageWriter w;
    gdcm::Image& im = w.GetImage();
    im.SetNumberOfDimensions(2);
    im.SetDimension(0, static_cast<unsigned>(v.dims[0]));
    im.SetDimension(1, static_cast<unsigned>(v.dims[1]));
    im.SetPixelFormat(gdcm::PixelFormat::INT16);
    im.SetPhotometricInterpretation(gdcm::PhotometricInterpretation::MONOCHROME2);
    double origin[3];
    for (int r = 0; r < 3; ++r) origin[r] = v.affine[r][3] + v.affine[r][2] * k;
    im.SetOrigin(origin);
    im.SetOrigin(2, origin[2]);  // a 2-D image keeps only x, y of the array form
    im.SetDirectionCosines(dircos);
    im.SetSpacing(0, sx);
    im.SetSpacing(1, sy);
    im.SetSpacing(2, sz);
    im.SetIntercept(intercept);
    im.SetSlope(1.0);
    std::vector<int16_t> px(plane);
    for (size_t i = 0; i < plane; ++i)
      px[i] = static_cast<int16_t>(std::clamp(std::lround(v.voxels[k * plane + i] - intercept), -32768L, 32767L));
    gdcm::DataElement pd(gdcm::Tag(0x7fe0, 0x0010));
    pd.SetByteValue(reinterpret_cast<const char*>(px.data()), static_cast<uint32_t>(plane * sizeof(int16_t)));
    im.SetDataElement(pd);
    gdcm::DataSet& ds = w.GetFile().GetDataSet();
    auto put = [&ds](uint16_t g, uint16_t e, const std::string& val, gdcm::VR vr) {
      gdcm::DataElement de(gdcm::Tag(g, e));
      de.SetVR(vr);
      std::string s = val;
      if (s.size() % 2) s.push_back(vr == gdcm::VR::UI ? '\0' : ' ');
      de.SetByteValue(s.data(), static_cast<uint32_t>(s.size()));
      ds.Replace(de);
    };
    put(0x0008, 0x0016, "1.2.840.10008.5.1.4.1.1.2", gdcm::VR::UI);  // CT Image Storage
    put(0x0008, 0x0018, gen.Generate(), gdcm::VR::UI);
    put(0x0008, 0x0060, "CT", gdcm::VR::CS);
    put(0x0020, 0x000D, study, gdcm::VR::UI);
    put(0x0020, 0x000E, series, gdcm::VR::UI);
    put(0x0020, 0x0013, std::to_string(k + 1), gdcm::VR::IS);
    char fname[32];
    std::snprintf(fname, sizeof(fname), "slice_%04d.dcm", k);
    const fs::path out = dir / fname;
    const fs::path tmp = dir / (std::string(".tmp") + std::to_string(rd() % 1000000) + "_" + fname);
    w.SetFileName(tmp.string().c_str());
    if (!w.Write()) {
      fs::remove(tmp, ec);
      throw RuntimeError("cannot write DICOM file " + out.string());
    }
    fs::rename(tmp, out, ec);
    if (ec) throw RuntimeError("cannot rename temp file onto " + out.string() + ": " + ec.message());
  }
}

}  // namespace vyolo
