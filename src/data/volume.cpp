#include "data/volume.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <mutex>
#include <random>

#include <nifti1_io.h>
#include <zlib.h>

#include "common/error.h"
#include "common/format.h"
#include "common/fs_util.h"

namespace fs = std::filesystem;

namespace vyolo {

namespace {

// niftilib keeps global state (options, messages); one caller at a time.
std::mutex g_nifti_mutex;

template <typename T>
void convert(const void* src, size_t n, float* dst) {
  const T* s = static_cast<const T*>(src);
  for (size_t i = 0; i < n; ++i) dst[i] = static_cast<float>(s[i]);
}

struct NimDeleter {
  void operator()(nifti_image* p) const { nifti_image_free(p); }
};

// Reads a gzip stream (gzopen also passes plain files through) in 64 KiB chunks, calling chunk(data, n, at) with `at`
// the stream offset of data[0]; returns the bytes read. gz_buffer > 0 sets zlib's input buffer size. Throws
// RuntimeError naming the path when the file cannot be opened or the stream is corrupt or truncated.
template <class Chunk>
size_t read_gz(const fs::path& path, Chunk&& chunk, unsigned gz_buffer = 0) {
  gzFile f = gzopen(path.string().c_str(), "rb");
  if (!f) throw RuntimeError(path.string() + ": cannot open");
  if (gz_buffer) gzbuffer(f, gz_buffer);
  std::vector<char> buf(1 << 16);  // not larger: it is zeroed and page-faulted in again for every file
  size_t total = 0;
  int n;
  while ((n = gzread(f, buf.data(), static_cast<unsigned>(buf.size()))) > 0) {
    chunk(buf.data(), static_cast<size_t>(n), total);
    total += static_cast<size_t>(n);
  }
  int err = Z_OK;
  const char* msg = gzerror(f, &err);
  const std::string what = msg ? msg : "";
  gzclose(f);
  if (n < 0 || (err != Z_OK && err != Z_STREAM_END))
    throw RuntimeError(path.string() + ": corrupt or truncated gzip stream (" + what + ")");
  return total;
}

// niftilib accepts a truncated .gz stream without an error (the missing voxels come back as garbage) and silently
// replaces NaN/Inf floats by 0, so the raw stream is checked here: it must inflate to at least offset + nbytes bytes,
// and float voxels must be finite.
void check_raw(const fs::path& path, size_t offset, size_t nbytes, int dtype, bool swap) {
  const int width = dtype == DT_FLOAT32 ? 4 : dtype == DT_FLOAT64 ? 8 : 0;
  long bad = -1;
  const size_t total = read_gz(path, [&](const char* data, size_t n, size_t start) {
    if (!width || bad >= 0) return;
    // Voxels are width-aligned relative to `offset`; chunks are a multiple of 8 bytes, as offsets are (NIfTI).
    for (size_t p = 0; p + width <= n; p += width) {
      const size_t at = start + p;
      if (at < offset || at - offset + width > nbytes || (at - offset) % width) continue;
      char v[8];
      std::memcpy(v, data + p, width);
      if (swap) std::reverse(v, v + width);
      double x;
      if (width == 4) {
        float y;
        std::memcpy(&y, v, 4);
        x = y;
      } else {
        std::memcpy(&x, v, 8);
      }
      if (!std::isfinite(x)) {
        bad = static_cast<long>((at - offset) / width);
        break;
      }
    }
  });
  if (total < offset || total - offset < nbytes)
    throw RuntimeError(path.string() + ": truncated file (" + std::to_string(total) + " bytes, the header asks for " +
                       std::to_string(nbytes) + " bytes of voxels at offset " + std::to_string(offset) + ")");
  if (bad >= 0)
    throw RuntimeError(path.string() + ": NaN or infinite voxel values (first at voxel " + std::to_string(bad) + ")");
}

}  // namespace

Mat4 make_affine(const std::array<double, 3>& spacing, const std::array<double, 3>& origin) {
  Mat4 a{};
  for (int r = 0; r < 3; ++r) {
    a[r][r] = spacing[r];
    a[r][3] = origin[r];
  }
  a[3][3] = 1;
  return a;
}

double affine_distance(const Mat4& a, const Mat4& b) {
  double d = 0;
  for (int r = 0; r < 4; ++r)
    for (int c = 0; c < 4; ++c) d = std::max(d, std::abs(a[r][c] - b[r][c]));
  return d;
}

// Inflates a whole .nii.gz (or reads a plain file: gzopen passes it through); throws on a corrupt/truncated stream.
std::string inflate_all(const fs::path& path) {
  std::string out;
  std::error_code ec;
  const auto on_disk = fs::file_size(path, ec);
  out.reserve(ec ? (1 << 20) : static_cast<size_t>(on_disk) * 3);
  read_gz(path, [&](const char* data, size_t n, size_t) { out.append(data, n); }, 1 << 18);
  return out;
}

// The bytes of voxel data the header promises (nvox * nbyper), after checking the dimensions: 2-D or 3-D (a 4-D/5-D
// file with one volume is accepted), every size at least 1, and no overflow anywhere in the product, so that nothing
// is allocated or read on the word of a corrupt header.
size_t header_data_bytes(const nifti_image& nim, const std::string& name) {
  if (nim.ndim < 2 || nim.ndim > 5)
    throw RuntimeError(name + ": unsupported NIfTI dimensionality " + std::to_string(nim.ndim));
  for (int d = 4; d <= 7; ++d)
    if (nim.dim[d] > 1 && d <= nim.ndim)
      throw RuntimeError(name + ": a 4-D/5-D NIfTI with several volumes is not a CT volume (dim[" +
                         std::to_string(d) + "]=" + std::to_string(nim.dim[d]) + ")");
  size_t n = 1;
  for (int d = 1; d <= nim.ndim; ++d) {
    if (nim.dim[d] < 1)
      throw RuntimeError(name + ": NIfTI dim[" + std::to_string(d) + "]=" + std::to_string(nim.dim[d]) + " is not a size");
    if (__builtin_mul_overflow(n, static_cast<size_t>(nim.dim[d]), &n))
      throw RuntimeError(name + ": NIfTI dimensions too large");
  }
  size_t bytes = 0;
  if (nim.nbyper <= 0 || n != nim.nvox || __builtin_mul_overflow(n, static_cast<size_t>(nim.nbyper), &bytes))
    throw RuntimeError(name + ": NIfTI voxel count or size does not match its dimensions");
  return bytes;
}

Volume read_nifti(const fs::path& path) {
  const std::string name = path.string();
  if (!fs::exists(path)) throw RuntimeError(name + ": no such file");
  std::unique_ptr<nifti_image, NimDeleter> nim;
  // Fast path (a native-endian single-file NIfTI-1): inflate once, let niftilib interpret the header only.
  std::string raw = inflate_all(path);
  const void* data = nullptr;
  nifti_1_header hdr;
  if (raw.size() >= sizeof(hdr)) std::memcpy(&hdr, raw.data(), sizeof(hdr));
  if (raw.size() >= sizeof(hdr) && hdr.sizeof_hdr == 348 && std::memcmp(hdr.magic, "n+1", 4) == 0) {
    // niftilib turns a size of 0 or less into 1 (a 40 x 0 x 10 CT would be read as 40 x 1 x 10): refuse it first.
    for (int d = 1; d <= hdr.dim[0] && d <= 7; ++d)
      if (hdr.dim[d] < 1)
        throw RuntimeError(name + ": NIfTI dim[" + std::to_string(d) + "]=" + std::to_string(hdr.dim[d]) +
                           " is not a size");
    {
      std::lock_guard<std::mutex> lock(g_nifti_mutex);
      nifti_set_debug_level(0);
      nim.reset(nifti_convert_nhdr2nim(hdr, name.c_str()));
    }
    if (!nim) throw RuntimeError(name + ": not a valid NIfTI-1 header");
    const size_t bytes = header_data_bytes(*nim, name);
    if (!(hdr.vox_offset < 1e18f))
      throw RuntimeError(name + ": NIfTI vox_offset " + std::to_string(hdr.vox_offset) + " is not a file offset");
    const size_t offset = static_cast<size_t>(hdr.vox_offset < 352 ? 352 : hdr.vox_offset);
    if (raw.size() < offset || raw.size() - offset < bytes)
      throw RuntimeError(name + ": truncated file (" + std::to_string(raw.size()) + " bytes, the header asks for " +
                         std::to_string(bytes) + " bytes of voxels at offset " + std::to_string(offset) + ")");
    data = raw.data() + offset;
  } else {
    // Byte-swapped files, .hdr/.img pairs, ...: niftilib reads the header; the raw data stream is checked (length,
    // finite floats) before niftilib allocates and reads the voxels.
    raw.clear();
    {
      std::lock_guard<std::mutex> lock(g_nifti_mutex);
      nifti_set_debug_level(0);
      nim.reset(nifti_image_read(name.c_str(), 0));
    }
    if (!nim) throw RuntimeError(name + ": not a readable NIfTI file (corrupt or truncated)");
    const size_t bytes = header_data_bytes(*nim, name);
    if (nim->iname_offset < 0) throw RuntimeError(name + ": negative NIfTI vox_offset");
    check_raw(nim->iname ? fs::path(nim->iname) : path, static_cast<size_t>(nim->iname_offset), bytes, nim->datatype,
              nim->byteorder != nifti_short_order());
    int loaded;
    {
      std::lock_guard<std::mutex> lock(g_nifti_mutex);
      loaded = nifti_image_load(nim.get());
    }
    if (loaded != 0 || !nim->data) throw RuntimeError(name + ": NIfTI data could not be read (truncated file?)");
    data = nim->data;
  }
  Volume v;
  v.dims = {std::max(1, nim->nx), std::max(1, nim->ny), nim->ndim >= 3 ? std::max(1, nim->nz) : 1};
  const size_t n = v.size();
  if (static_cast<size_t>(nim->nvox) < n) throw RuntimeError(name + ": voxel count smaller than its dimensions");
  v.voxels.resize(n);
  float* dst = v.voxels.data();
  switch (nim->datatype) {
    case DT_UINT8: convert<uint8_t>(data, n, dst); break;
    case DT_INT8: convert<int8_t>(data, n, dst); break;
    case DT_INT16: convert<int16_t>(data, n, dst); break;
    case DT_UINT16: convert<uint16_t>(data, n, dst); break;
    case DT_INT32: convert<int32_t>(data, n, dst); break;
    case DT_UINT32: convert<uint32_t>(data, n, dst); break;
    case DT_INT64: convert<int64_t>(data, n, dst); break;
    case DT_UINT64: convert<uint64_t>(data, n, dst); break;
    case DT_FLOAT32: convert<float>(data, n, dst); break;
    case DT_FLOAT64: convert<double>(data, n, dst); break;
    default:
      throw RuntimeError(name + ": unsupported NIfTI datatype " + std::to_string(nim->datatype));
  }
  raw = std::string();
  if (nim->datatype == DT_FLOAT32 || nim->datatype == DT_FLOAT64)
    for (size_t i = 0; i < n; ++i)
      if (!std::isfinite(dst[i]))
        throw RuntimeError(name + ": NaN or infinite voxel values (first at voxel " + std::to_string(i) + ")");
  if (nim->scl_slope != 0 && std::isfinite(nim->scl_slope) &&
      (nim->scl_slope != 1.0f || nim->scl_inter != 0.0f)) {
    const double s = nim->scl_slope, b = std::isfinite(nim->scl_inter) ? nim->scl_inter : 0.0;
    for (auto& x : v.voxels) x = static_cast<float>(x * s + b);
    // A slope like 1e38 overflows float: the volume would hold inf HU (prepare checks, inference did not).
    for (size_t i = 0; i < n; ++i)
      if (!std::isfinite(v.voxels[i]))
        throw RuntimeError(name + ": scl_slope " + format_number("%g", s) + " and scl_inter " + format_number("%g", b) +
                           " make voxel values infinite (first at voxel " + std::to_string(i) + ")");
  }
  mat44 m;
  bool have = true;
  if (nim->sform_code > 0) m = nim->sto_xyz;
  else if (nim->qform_code > 0) m = nim->qto_xyz;
  else have = false;
  Mat4 a{};
  if (have) {
    for (int r = 0; r < 4; ++r)
      for (int c = 0; c < 4; ++c) a[r][c] = m.m[r][c];
    // RAS (NIfTI) -> LPS.
    for (int c = 0; c < 4; ++c) {
      a[0][c] = -a[0][c];
      a[1][c] = -a[1][c];
    }
  } else {
    // No orientation: nibabel's fallback (pixdim diagonal, RAS) expressed in LPS.
    a = make_affine({nim->dx > 0 ? nim->dx : 1.0, nim->dy > 0 ? nim->dy : 1.0, nim->dz > 0 ? nim->dz : 1.0});
    a[0][0] = -a[0][0];
    a[1][1] = -a[1][1];
  }
  a[3] = {0, 0, 0, 1};
  v.affine = a;
  for (int c = 0; c < 3; ++c) {
    double s = std::sqrt(a[0][c] * a[0][c] + a[1][c] * a[1][c] + a[2][c] * a[2][c]);
    if (!(s > 0)) throw RuntimeError(name + ": degenerate affine (zero column " + std::to_string(c) + ")");
    v.spacing[c] = s;
  }
  return v;
}

void write_nifti(const Volume& v, const fs::path& path, int dtype) {
  const std::string name = path.string();
  if (v.voxels.size() != v.size()) throw RuntimeError(name + ": volume data size does not match its dimensions");
  std::error_code ec;
  if (path.has_parent_path()) fs::create_directories(path.parent_path(), ec);
  const std::string fname = path.filename().string();
  const bool gz = fname.size() > 3 && fname.substr(fname.size() - 3) == ".gz";
  std::random_device rd;
  fs::path tmp = path.parent_path() / (".tmp" + std::to_string(rd() % 1000000) + "_" +
                                       (gz ? std::string("x.nii.gz") : std::string("x.nii")));
  int dims[8] = {3, v.dims[0], v.dims[1], v.dims[2], 1, 1, 1, 1};
  std::lock_guard<std::mutex> lock(g_nifti_mutex);
  nifti_set_debug_level(0);
  std::unique_ptr<nifti_image, NimDeleter> nim(nifti_make_new_nim(dims, dtype, 1));
  if (!nim) throw RuntimeError(name + ": cannot create NIfTI image of datatype " + std::to_string(dtype));
  const size_t n = v.size();
  for (size_t i = 0; i < n; ++i) {
    const float x = v.voxels[i];
    switch (dtype) {
      case DT_UINT8: static_cast<uint8_t*>(nim->data)[i] = static_cast<uint8_t>(std::clamp(std::lround(x), 0L, 255L)); break;
      case DT_INT16:
        static_cast<int16_t*>(nim->data)[i] = static_cast<int16_t>(std::clamp(std::lround(x), -32768L, 32767L));
        break;
      case DT_INT32: static_cast<int32_t*>(nim->data)[i] = static_cast<int32_t>(std::lround(x)); break;
      case DT_FLOAT32: static_cast<float*>(nim->data)[i] = x; break;
      default: throw RuntimeError(name + ": write_nifti supports datatypes 2, 4, 8, 16 only");
    }
  }
  mat44 m;
  for (int r = 0; r < 4; ++r)
    for (int c = 0; c < 4; ++c) m.m[r][c] = static_cast<float>(v.affine[r][c]);
  for (int c = 0; c < 4; ++c) {  // LPS -> RAS
    m.m[0][c] = -m.m[0][c];
    m.m[1][c] = -m.m[1][c];
  }
  nim->sform_code = NIFTI_XFORM_SCANNER_ANAT;
  nim->sto_xyz = m;
  nim->sto_ijk = nifti_mat44_inverse(m);
  nim->qform_code = NIFTI_XFORM_SCANNER_ANAT;
  float qb, qc, qd, qx, qy, qz, dx, dy, dz, qfac;
  nifti_mat44_to_quatern(m, &qb, &qc, &qd, &qx, &qy, &qz, &dx, &dy, &dz, &qfac);
  nim->quatern_b = qb, nim->quatern_c = qc, nim->quatern_d = qd;
  nim->qoffset_x = qx, nim->qoffset_y = qy, nim->qoffset_z = qz;
  nim->qfac = qfac;
  nim->qto_xyz = nifti_quatern_to_mat44(qb, qc, qd, qx, qy, qz, dx, dy, dz, qfac);
  nim->qto_ijk = nifti_mat44_inverse(nim->qto_xyz);
  nim->dx = nim->pixdim[1] = static_cast<float>(v.spacing[0]);
  nim->dy = nim->pixdim[2] = static_cast<float>(v.spacing[1]);
  nim->dz = nim->pixdim[3] = static_cast<float>(v.spacing[2]);
  nim->xyz_units = NIFTI_UNITS_MM;
  if (nifti_set_filenames(nim.get(), tmp.string().c_str(), 0, 1) != 0)
    throw RuntimeError(name + ": cannot set NIfTI file name");
  nifti_image_write(nim.get());
  if (!fs::exists(tmp) || fs::file_size(tmp, ec) == 0) {
    fs::remove(tmp, ec);
    throw RuntimeError("cannot write " + name);
  }
  fs::rename(tmp, path, ec);
  if (ec) {
    fs::remove(tmp, ec);
    throw RuntimeError("cannot rename temp file onto " + name + ": " + ec.message());
  }
}

Volume read_volume(const fs::path& path) {
  if (fs::is_directory(path)) return read_dicom_series(path);
  return read_nifti(path);
}

Volume to_canonical(const Volume& v) {
  // Pick the axis permutation that maximises the alignment of voxel axes with world axes.
  int perm[3] = {0, 1, 2};  // perm[world axis] = voxel axis
  int best[3] = {0, 1, 2};
  double best_score = -1;
  std::sort(perm, perm + 3);
  do {
    double s = 0;
    for (int w = 0; w < 3; ++w) s += std::abs(v.affine[w][perm[w]]) / v.spacing[perm[w]];
    if (s > best_score + 1e-9) {
      best_score = s;
      std::copy(perm, perm + 3, best);
    }
  } while (std::next_permutation(perm, perm + 3));
  bool flip[3];
  for (int w = 0; w < 3; ++w) flip[w] = v.affine[w][best[w]] < 0;
  const bool identity = best[0] == 0 && best[1] == 1 && best[2] == 2 && !flip[0] && !flip[1] && !flip[2];
  if (identity) return v;

  const long old_stride[3] = {1, v.dims[0], static_cast<long>(v.dims[0]) * v.dims[1]};
  Volume out;
  long stride[3];
  long base = 0;
  for (int w = 0; w < 3; ++w) {
    const int a = best[w];
    out.dims[w] = v.dims[a];
    out.spacing[w] = v.spacing[a];
    stride[w] = flip[w] ? -old_stride[a] : old_stride[a];
    if (flip[w]) base += (v.dims[a] - 1) * old_stride[a];
  }
  out.affine = Mat4{};
  out.affine[3][3] = 1;
  for (int r = 0; r < 3; ++r) {
    out.affine[r][3] = v.affine[r][3];
    for (int w = 0; w < 3; ++w) {
      const int a = best[w];
      out.affine[r][w] = flip[w] ? -v.affine[r][a] : v.affine[r][a];
      if (flip[w]) out.affine[r][3] += v.affine[r][a] * (v.dims[a] - 1);
    }
  }
  out.voxels.resize(v.size());
  float* dst = out.voxels.data();
  const float* src = v.voxels.data();
  for (int k = 0; k < out.dims[2]; ++k)
    for (int j = 0; j < out.dims[1]; ++j) {
      long o = base + k * stride[2] + j * stride[1];
      for (int i = 0; i < out.dims[0]; ++i, o += stride[0]) *dst++ = src[o];
    }
  return out;
}

}  // namespace vyolo
