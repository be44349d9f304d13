// The RAII layer over the HDF5 C API (h5.h). Every HDF5 call is checked and a failure throws
// naming the file and the object; HDF5's own error printing is off on each thread. mutex() is
// the one process-wide lock that threads sharing HDF5 take (HDF5 is one library state per
// process). Strings are variable-length UTF-8; RowReader reads row ranges of a 2-D dataset;
// Appender buffers one chunk of rows at a time and extends a chunked dataset.
#include "core/h5.h"

#include <algorithm>
#include <mutex>

#include "core/fs.h"

namespace ds2::h5 {

std::mutex& mutex() {
  static std::mutex m;  // process-wide by design: HDF5 itself is one per process
  return m;
}

void disable_atexit_cleanup() { H5dont_atexit(); }

void quiet_errors() {
  // In a thread-safe HDF5 build the error-printing setting is per thread: set it once on each.
  thread_local bool quiet = false;
  if (!quiet) {
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
    quiet = true;
  }
}

#define DS2_H5(call, ...)                            \
  do {                                               \
    if ((call) < 0) DS2_THROW(IoError, __VA_ARGS__); \
  } while (0)

File File::create(const std::string& path, bool compact) {
  quiet_errors();
  File f;
  f.path_ = path;
  Handle fapl(H5Pcreate(H5P_FILE_ACCESS), H5Pclose);
  if (compact) H5Pset_libver_bounds(fapl, H5F_LIBVER_V18, H5F_LIBVER_LATEST);
  hid_t id = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
  DS2_REQUIRE(id >= 0, IoError, "{}: cannot create HDF5 file", path);
  f.h_ = Handle(id, H5Fclose);
  return f;
}

File File::open(const std::string& path, bool writable) {
  quiet_errors();
  File f;
  f.path_ = path;
  hid_t id = H5Fopen(path.c_str(), writable ? H5F_ACC_RDWR : H5F_ACC_RDONLY, H5P_DEFAULT);
  DS2_REQUIRE(id >= 0, IoError, "{}: cannot open as HDF5", path);
  f.h_ = Handle(id, H5Fclose);
  return f;
}

bool File::exists(const std::string& name) const {
  // Walk each component: H5Lexists fails on a missing intermediate group.
  size_t pos = 0;
  while (true) {
    size_t next = name.find('/', pos + 1);
    std::string part = name.substr(0, next);
    if (!part.empty() && part != "/" && H5Lexists(h_, part.c_str(), H5P_DEFAULT) <= 0) return false;
    if (next == std::string::npos) return true;
    pos = next;
  }
}

void File::create_group(const std::string& name) {
  hid_t g = H5Gcreate2(h_, name.c_str(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  DS2_REQUIRE(g >= 0, IoError, "{}: cannot create group '{}'", path_, name);
  H5Gclose(g);
}

Handle File::open_obj(const std::string& obj) const {
  hid_t id = H5Oopen(h_, obj.c_str(), H5P_DEFAULT);
  DS2_REQUIRE(id >= 0, FormatError, "{}: object '{}' missing", path_, obj);
  return Handle(id, H5Oclose);
}

template <typename T>
void File::write_attr(const std::string& name, T value, const std::string& obj) {
  write_attr_vec<T>(name, std::vector<T>{value}, obj);
}

template <typename T>
void File::write_attr_vec(const std::string& name, const std::vector<T>& v,
                          const std::string& obj) {
  Handle o = open_obj(obj);
  if (H5Aexists(o, name.c_str()) > 0) H5Adelete(o, name.c_str());
  hsize_t n = v.size();
  Handle space(v.size() == 1 ? H5Screate(H5S_SCALAR) : H5Screate_simple(1, &n, nullptr), H5Sclose);
  Handle a(H5Acreate2(o, name.c_str(), native_type<T>(), space, H5P_DEFAULT, H5P_DEFAULT),
           H5Aclose);
  DS2_REQUIRE(a.valid(), IoError, "{}: cannot create attribute '{}'", path_, name);
  DS2_H5(H5Awrite(a, native_type<T>(), v.data()), "{}: cannot write attribute '{}'{}", path_, name,
         disk_full_note(path_));
}

namespace {
Handle utf8_vlen_type() {
  Handle t(H5Tcopy(H5T_C_S1), H5Tclose);
  H5Tset_size(t, H5T_VARIABLE);
  H5Tset_cset(t, H5T_CSET_UTF8);
  return t;
}
}  // namespace

void File::write_attr_str(const std::string& name, const std::string& value,
                          const std::string& obj) {
  Handle o = open_obj(obj);
  if (H5Aexists(o, name.c_str()) > 0) H5Adelete(o, name.c_str());
  Handle t = utf8_vlen_type();
  Handle space(H5Screate(H5S_SCALAR), H5Sclose);
  Handle a(H5Acreate2(o, name.c_str(), t, space, H5P_DEFAULT, H5P_DEFAULT), H5Aclose);
  DS2_REQUIRE(a.valid(), IoError, "{}: cannot create attribute '{}'", path_, name);
  const char* p = value.c_str();
  DS2_H5(H5Awrite(a, t, &p), "{}: cannot write attribute '{}'{}", path_, name,
         disk_full_note(path_));
}

bool File::has_attr(const std::string& name, const std::string& obj) const {
  Handle o = open_obj(obj);
  return H5Aexists(o, name.c_str()) > 0;
}

template <typename T>
std::vector<T> File::read_attr_vec(const std::string& name, const std::string& obj) const {
  Handle o = open_obj(obj);
  Handle a(H5Aopen(o, name.c_str(), H5P_DEFAULT), H5Aclose);
  DS2_REQUIRE(a.valid(), FormatError, "{}: attribute '{}' missing on '{}'", path_, name, obj);
  Handle space(H5Aget_space(a), H5Sclose);
  hssize_t n = H5Sget_simple_extent_npoints(space);
  std::vector<T> v(static_cast<size_t>(n));
  DS2_REQUIRE(H5Aread(a, native_type<T>(), v.data()) >= 0, FormatError,
              "{}: attribute '{}' is not numeric", path_, name);
  return v;
}

template <typename T>
T File::read_attr(const std::string& name, const std::string& obj) const {
  auto v = read_attr_vec<T>(name, obj);
  DS2_REQUIRE(v.size() == 1, FormatError, "{}: attribute '{}' has {} values, expected 1", path_,
              name, v.size());
  return v[0];
}

std::string File::read_attr_str(const std::string& name, const std::string& obj) const {
  Handle o = open_obj(obj);
  Handle a(H5Aopen(o, name.c_str(), H5P_DEFAULT), H5Aclose);
  DS2_REQUIRE(a.valid(), FormatError, "{}: attribute '{}' missing on '{}'", path_, name, obj);
  Handle ft(H5Aget_type(a), H5Tclose);
  DS2_REQUIRE(H5Tget_class(ft) == H5T_STRING, FormatError, "{}: attribute '{}' is not a string",
              path_, name);
  if (H5Tis_variable_str(ft) > 0) {
    Handle t = utf8_vlen_type();
    char* p = nullptr;
    DS2_REQUIRE(H5Aread(a, t, &p) >= 0, FormatError, "{}: cannot read attribute '{}'", path_, name);
    std::string s = p ? p : "";
    H5free_memory(p);
    return s;
  }
  size_t n = H5Tget_size(ft);
  std::string s(n, '\0');
  DS2_REQUIRE(H5Aread(a, ft, s.data()) >= 0, FormatError, "{}: cannot read attribute '{}'", path_,
              name);
  while (!s.empty() && s.back() == '\0') s.pop_back();
  return s;
}

template <typename T>
void File::write(const std::string& name, const std::vector<T>& v, std::vector<hsize_t> dims,
                 hsize_t chunk_rows, bool compress) {
  if (dims.empty()) dims = {v.size()};
  hsize_t total = 1;
  for (auto d : dims) total *= d;
  DS2_REQUIRE(total == v.size(), ConfigError, "{}: dataset '{}': {} values for shape of {}", path_,
              name, v.size(), total);
  Handle space(H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr), H5Sclose);
  Handle dcpl(H5Pcreate(H5P_DATASET_CREATE), H5Pclose);
  if (chunk_rows > 0) {
    std::vector<hsize_t> chunk = dims;
    chunk[0] = std::max<hsize_t>(1, std::min(chunk_rows, dims[0]));
    for (auto& c : chunk) c = std::max<hsize_t>(c, 1);
    H5Pset_chunk(dcpl, static_cast<int>(chunk.size()), chunk.data());
    if (compress) {
      H5Pset_shuffle(dcpl);
      H5Pset_deflate(dcpl, 4);
    }
    H5Pset_fletcher32(dcpl);
  }
  Handle ds(H5Dcreate2(h_, name.c_str(), native_type<T>(), space, H5P_DEFAULT, dcpl, H5P_DEFAULT),
            H5Dclose);
  DS2_REQUIRE(ds.valid(), IoError, "{}: cannot create dataset '{}'", path_, name);
  if (!v.empty())
    DS2_H5(H5Dwrite(ds, native_type<T>(), H5S_ALL, H5S_ALL, H5P_DEFAULT, v.data()),
           "{}: dataset '{}': write failed{}", path_, name, disk_full_note(path_));
}

void File::write_strings(const std::string& name, const std::vector<std::string>& v) {
  Handle t = utf8_vlen_type();
  hsize_t n = v.size();
  Handle space(H5Screate_simple(1, &n, nullptr), H5Sclose);
  Handle ds(H5Dcreate2(h_, name.c_str(), t, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
            H5Dclose);
  DS2_REQUIRE(ds.valid(), IoError, "{}: cannot create dataset '{}'", path_, name);
  std::vector<const char*> ptrs(v.size());
  for (size_t i = 0; i < v.size(); ++i) ptrs[i] = v[i].c_str();
  if (!v.empty())
    DS2_H5(H5Dwrite(ds, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, ptrs.data()),
           "{}: dataset '{}': write failed{}", path_, name, disk_full_note(path_));
}

std::vector<hsize_t> File::dims(const std::string& name) const {
  Handle ds(H5Dopen2(h_, name.c_str(), H5P_DEFAULT), H5Dclose);
  DS2_REQUIRE(ds.valid(), FormatError, "{}: dataset '{}' missing", path_, name);
  Handle space(H5Dget_space(ds), H5Sclose);
  int nd = H5Sget_simple_extent_ndims(space);
  std::vector<hsize_t> d(std::max(nd, 0));
  H5Sget_simple_extent_dims(space, d.data(), nullptr);
  return d;
}

template <typename T>
std::vector<T> File::read(const std::string& name, std::vector<hsize_t>* dims_out) const {
  Handle ds(H5Dopen2(h_, name.c_str(), H5P_DEFAULT), H5Dclose);
  DS2_REQUIRE(ds.valid(), FormatError, "{}: dataset '{}' missing", path_, name);
  Handle space(H5Dget_space(ds), H5Sclose);
  hssize_t n = H5Sget_simple_extent_npoints(space);
  if (dims_out) *dims_out = dims(name);
  std::vector<T> v(static_cast<size_t>(n));
  if (n > 0)
    DS2_REQUIRE(H5Dread(ds, native_type<T>(), H5S_ALL, H5S_ALL, H5P_DEFAULT, v.data()) >= 0,
                FormatError, "{}: dataset '{}': read failed (wrong type or checksum error)", path_,
                name);
  return v;
}

template <typename T>
std::vector<T> File::read_rows(const std::string& name, hsize_t row0, hsize_t nrows) const {
  Handle ds(H5Dopen2(h_, name.c_str(), H5P_DEFAULT), H5Dclose);
  DS2_REQUIRE(ds.valid(), FormatError, "{}: dataset '{}' missing", path_, name);
  Handle space(H5Dget_space(ds), H5Sclose);
  int nd = H5Sget_simple_extent_ndims(space);
  DS2_REQUIRE(nd == 1 || nd == 2, FormatError, "{}: dataset '{}' has rank {}", path_, name, nd);
  hsize_t d[2] = {0, 1};
  H5Sget_simple_extent_dims(space, d, nullptr);
  DS2_REQUIRE(row0 + nrows <= d[0], FormatError, "{}: dataset '{}': rows {}..{} past its {} rows",
              path_, name, row0, row0 + nrows, d[0]);
  std::vector<T> v(static_cast<size_t>(nrows * (nd == 2 ? d[1] : 1)));
  if (nrows == 0) return v;
  hsize_t start[2] = {row0, 0}, count[2] = {nrows, d[1]};
  H5Sselect_hyperslab(space, H5S_SELECT_SET, start, nullptr, count, nullptr);
  Handle mem(H5Screate_simple(nd, count, nullptr), H5Sclose);
  DS2_REQUIRE(H5Dread(ds, native_type<T>(), mem, space, H5P_DEFAULT, v.data()) >= 0, FormatError,
              "{}: dataset '{}': read of rows {}..{} failed (checksum error?)", path_, name, row0,
              row0 + nrows);
  return v;
}

std::vector<std::string> File::read_strings(const std::string& name) const {
  Handle ds(H5Dopen2(h_, name.c_str(), H5P_DEFAULT), H5Dclose);
  DS2_REQUIRE(ds.valid(), FormatError, "{}: dataset '{}' missing", path_, name);
  Handle space(H5Dget_space(ds), H5Sclose);
  hssize_t n = H5Sget_simple_extent_npoints(space);
  Handle t = utf8_vlen_type();
  std::vector<char*> ptrs(static_cast<size_t>(n), nullptr);
  if (n > 0)
    DS2_REQUIRE(H5Dread(ds, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, ptrs.data()) >= 0, FormatError,
                "{}: dataset '{}': not variable-length strings", path_, name);
  std::vector<std::string> out(ptrs.size());
  for (size_t i = 0; i < ptrs.size(); ++i) out[i] = ptrs[i] ? ptrs[i] : "";
  if (n > 0) H5Dvlen_reclaim(t, space, H5P_DEFAULT, ptrs.data());
  return out;
}

std::vector<std::string> File::read_strings(const std::string& name, hsize_t row0,
                                            hsize_t nrows) const {
  Handle ds(H5Dopen2(h_, name.c_str(), H5P_DEFAULT), H5Dclose);
  DS2_REQUIRE(ds.valid(), FormatError, "{}: dataset '{}' missing", path_, name);
  Handle space(H5Dget_space(ds), H5Sclose);
  const hssize_t n = H5Sget_simple_extent_npoints(space);
  DS2_REQUIRE(H5Sget_simple_extent_ndims(space) == 1 && row0 + nrows <= static_cast<hsize_t>(n),
              FormatError, "{}: dataset '{}': rows {}..{} of {}", path_, name, row0, row0 + nrows,
              n);
  std::vector<std::string> out(static_cast<size_t>(nrows));
  if (nrows == 0) return out;
  DS2_H5(H5Sselect_hyperslab(space, H5S_SELECT_SET, &row0, nullptr, &nrows, nullptr),
         "{}: dataset '{}': cannot select rows", path_, name);
  Handle mem(H5Screate_simple(1, &nrows, nullptr), H5Sclose);
  Handle t = utf8_vlen_type();
  std::vector<char*> ptrs(static_cast<size_t>(nrows), nullptr);
  DS2_REQUIRE(H5Dread(ds, t, mem, space, H5P_DEFAULT, ptrs.data()) >= 0, FormatError,
              "{}: dataset '{}': not variable-length strings", path_, name);
  for (size_t i = 0; i < ptrs.size(); ++i) out[i] = ptrs[i] ? ptrs[i] : "";
  H5Dvlen_reclaim(t, mem, H5P_DEFAULT, ptrs.data());
  return out;
}

template <typename T>
RowReader<T>::RowReader(const File& f, const std::string& name) : path_(f.path()), name_(name) {
  ds_ = Handle(H5Dopen2(f.id(), name.c_str(), H5P_DEFAULT), H5Dclose);
  DS2_REQUIRE(ds_.valid(), FormatError, "{}: dataset '{}' missing", path_, name);
  {
    Handle dcpl(H5Dget_create_plist(ds_), H5Pclose);
    filtered_ = H5Pget_nfilters(dcpl) > 0;
  }
  if (!filtered_) {  // reopen without a chunk cache: reads go straight to the selected bytes
    ds_.reset();     // closed first: a second open of an open dataset shares its cache settings
    Handle dapl(H5Pcreate(H5P_DATASET_ACCESS), H5Pclose);
    DS2_H5(H5Pset_chunk_cache(dapl, H5D_CHUNK_CACHE_NSLOTS_DEFAULT, 0, H5D_CHUNK_CACHE_W0_DEFAULT),
           "{}: dataset '{}': cannot set its chunk cache", path_, name);
    ds_ = Handle(H5Dopen2(f.id(), name.c_str(), dapl), H5Dclose);
    DS2_REQUIRE(ds_.valid(), FormatError, "{}: dataset '{}': cannot reopen", path_, name);
  }
  Handle space(H5Dget_space(ds_), H5Sclose);
  DS2_REQUIRE(space.valid(), FormatError, "{}: dataset '{}': no dataspace", path_, name);
  rank_ = H5Sget_simple_extent_ndims(space);
  DS2_REQUIRE(rank_ == 1 || rank_ == 2, FormatError, "{}: dataset '{}' has rank {}", path_, name,
              rank_);
  hsize_t d[2] = {0, 1};
  DS2_REQUIRE(H5Sget_simple_extent_dims(space, d, nullptr) == rank_, FormatError,
              "{}: dataset '{}': cannot read its dimensions", path_, name);
  rows_ = d[0];
  cols_ = rank_ == 2 ? d[1] : 1;
}

template <typename T>
void RowReader<T>::read(hsize_t row0, hsize_t nrows, T* out) const {
  DS2_REQUIRE(ds_.valid(), FormatError, "{}: dataset '{}' not open", path_, name_);
  DS2_REQUIRE(row0 + nrows <= rows_, FormatError, "{}: dataset '{}': rows {}..{} past its {} rows",
              path_, name_, row0, row0 + nrows, rows_);
  if (nrows == 0) return;
  Handle space(H5Dget_space(ds_), H5Sclose);
  hsize_t start[2] = {row0, 0}, count[2] = {nrows, cols_};
  DS2_REQUIRE(space.valid() &&
                  H5Sselect_hyperslab(space, H5S_SELECT_SET, start, nullptr, count, nullptr) >= 0,
              FormatError, "{}: dataset '{}': cannot select rows {}..{}", path_, name_, row0,
              row0 + nrows);
  Handle mem(H5Screate_simple(rank_, count, nullptr), H5Sclose);
  DS2_REQUIRE(H5Dread(ds_, native_type<T>(), mem, space, H5P_DEFAULT, out) >= 0, FormatError,
              "{}: dataset '{}': read of rows {}..{} failed{}", path_, name_, row0, row0 + nrows,
              filtered_ ? " (checksum error?)" : "");
}

template <typename T>
Appender<T>::Appender(File& f, const std::string& name, hsize_t cols, hsize_t chunk_rows,
                      bool fletcher32)
    : f_(&f), name_(name), cols_(cols), chunk_rows_(std::max<hsize_t>(chunk_rows, 1)) {
  buf_.resize(chunk_rows_ * std::max<hsize_t>(cols, 1));
  int nd = cols > 0 ? 2 : 1;
  hsize_t dims[2] = {0, cols}, maxd[2] = {H5S_UNLIMITED, cols};
  hsize_t chunk[2] = {std::max<hsize_t>(chunk_rows, 1), std::max<hsize_t>(cols, 1)};
  Handle space(H5Screate_simple(nd, dims, maxd), H5Sclose);
  Handle dcpl(H5Pcreate(H5P_DATASET_CREATE), H5Pclose);
  H5Pset_chunk(dcpl, nd, chunk);
  if (fletcher32) H5Pset_fletcher32(dcpl);
  ds_ = Handle(
      H5Dcreate2(f.id(), name.c_str(), native_type<T>(), space, H5P_DEFAULT, dcpl, H5P_DEFAULT),
      H5Dclose);
  DS2_REQUIRE(ds_.valid(), IoError, "{}: cannot create dataset '{}'", f.path(), name);
}

template <typename T>
void Appender<T>::append(const T* rows, hsize_t nrows) {
  const hsize_t width = std::max<hsize_t>(cols_, 1);
  while (nrows > 0) {
    if (buffered_ == 0 && nrows >= chunk_rows_) {  // whole chunks go straight through
      hsize_t n = nrows - nrows % chunk_rows_;
      write_rows(rows, n);
      rows += n * width;
      nrows -= n;
      continue;
    }
    hsize_t n = std::min(nrows, chunk_rows_ - buffered_);
    std::copy(rows, rows + n * width, buf_.begin() + buffered_ * width);
    buffered_ += n;
    rows += n * width;
    nrows -= n;
    if (buffered_ == chunk_rows_) flush();
  }
}

template <typename T>
void Appender<T>::flush() {
  if (buffered_ == 0) return;
  write_rows(buf_.data(), buffered_);
  buffered_ = 0;
}

template <typename T>
void Appender<T>::write_rows(const T* rows, hsize_t nrows) {
  if (nrows == 0) return;
  int nd = cols_ > 0 ? 2 : 1;
  hsize_t rows_ = written_;
  hsize_t newd[2] = {rows_ + nrows, cols_};
  DS2_H5(H5Dset_extent(ds_, newd), "{}: dataset '{}': cannot extend", f_->path(), name_);
  Handle space(H5Dget_space(ds_), H5Sclose);
  hsize_t start[2] = {rows_, 0}, count[2] = {nrows, cols_};
  H5Sselect_hyperslab(space, H5S_SELECT_SET, start, nullptr, count, nullptr);
  Handle mem(H5Screate_simple(nd, count, nullptr), H5Sclose);
  DS2_H5(H5Dwrite(ds_, native_type<T>(), mem, space, H5P_DEFAULT, rows),
         "{}: dataset '{}': write failed{}", f_->path(), name_, disk_full_note(f_->path()));
  written_ += nrows;
}

#define DS2_H5_INSTANTIATE(T)                                                                   \
  template void File::write_attr<T>(const std::string&, T, const std::string&);                 \
  template void File::write_attr_vec<T>(const std::string&, const std::vector<T>&,              \
                                        const std::string&);                                    \
  template T File::read_attr<T>(const std::string&, const std::string&) const;                  \
  template std::vector<T> File::read_attr_vec<T>(const std::string&, const std::string&) const; \
  template void File::write<T>(const std::string&, const std::vector<T>&, std::vector<hsize_t>, \
                               hsize_t, bool);                                                  \
  template std::vector<T> File::read<T>(const std::string&, std::vector<hsize_t>*) const;       \
  template std::vector<T> File::read_rows<T>(const std::string&, hsize_t, hsize_t) const;       \
  template class Appender<T>;                                                                   \
  template class RowReader<T>;

DS2_H5_INSTANTIATE(float)
DS2_H5_INSTANTIATE(double)
DS2_H5_INSTANTIATE(int32_t)
DS2_H5_INSTANTIATE(int64_t)
DS2_H5_INSTANTIATE(uint64_t)
DS2_H5_INSTANTIATE(uint8_t)

}  // namespace ds2::h5
