// A thin RAII layer over the HDF5 C API: handles that close themselves, typed dataset and
// attribute I/O, variable-length UTF-8 strings, and an appendable 2-D dataset for streaming
// writes. Every failure throws IoError/FormatError naming the file and the object:
//   "data/train/shard-00003.h5: dataset '/features': read failed".
// HDF5's own error stack printing is switched off; the message carries what is needed.
#pragma once

#include <hdf5.h>

#include <cstdint>
#include <mutex>
#include <string>
#include <type_traits>
#include <vector>

#include "core/error.h"

namespace ds2::h5 {

// The process-wide lock for HDF5 calls from several threads: a serial HDF5 build may not be
// thread-safe (H5is_library_threadsafe). Code that calls HDF5 from a thread other than the main
// one (train's batch loader) holds it for every call; so must any other HDF5 use while such a
// thread runs, when the library is not thread-safe (train/loader.h).
std::mutex& mutex();

// Call once at program start, before any other HDF5 call: HDF5 then does not install its library
// shutdown as an atexit() handler. After a write that failed for lack of space (ENOSPC), HDF5
// cannot close the file (H5Fclose fails and the file stays open inside the library), and that
// shutdown later crashes closing it (SIGSEGV in H5F__close_cb): a clean one-line error would end
// in a segfault and exit status 139. ds2 closes every HDF5 object it opens (the handles below),
// so that shutdown has nothing to do. The OS reclaims the rest at exit.
void disable_atexit_cleanup();

// Owns one hid_t and closes it with the matching H5*close.
class Handle {
 public:
  Handle() = default;
  Handle(hid_t id, herr_t (*closer)(hid_t)) : id_(id), closer_(closer) {}
  ~Handle() { reset(); }
  Handle(Handle&& o) noexcept : id_(o.id_), closer_(o.closer_) { o.id_ = -1; }
  Handle& operator=(Handle&& o) noexcept {
    if (this != &o) {
      reset();
      id_ = o.id_;
      closer_ = o.closer_;
      o.id_ = -1;
    }
    return *this;
  }
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
  hid_t id() const { return id_; }
  operator hid_t() const { return id_; }
  bool valid() const { return id_ >= 0; }
  void reset() {
    if (id_ >= 0 && closer_) closer_(id_);
    id_ = -1;
  }

 private:
  hid_t id_ = -1;
  herr_t (*closer_)(hid_t) = nullptr;
};

template <typename T>
hid_t native_type() {
  if constexpr (std::is_same_v<T, float>)
    return H5T_NATIVE_FLOAT;
  else if constexpr (std::is_same_v<T, double>)
    return H5T_NATIVE_DOUBLE;
  else if constexpr (std::is_same_v<T, int32_t>)
    return H5T_NATIVE_INT32;
  else if constexpr (std::is_same_v<T, int64_t>)
    return H5T_NATIVE_INT64;
  else if constexpr (std::is_same_v<T, uint64_t>)
    return H5T_NATIVE_UINT64;
  else if constexpr (std::is_same_v<T, uint8_t>)
    return H5T_NATIVE_UINT8;
  else
    static_assert(sizeof(T) == 0, "no HDF5 type for this type");
}

// An open HDF5 file. The path is kept for error messages.
class File {
 public:
  // Creates (truncating) a file for writing. compact = true writes the HDF5 1.8 file format
  // (links and attributes in compact object headers, no symbol-table B-tree and heap), which
  // HDF5 >= 1.8, h5py and h5dump read and which costs fewer metadata reads per open.
  static File create(const std::string& path, bool compact = false);
  // Opens an existing file read-only (or read-write).
  static File open(const std::string& path, bool writable = false);
  const std::string& path() const { return path_; }
  hid_t id() const { return h_.id(); }
  void close() { h_.reset(); }
  bool exists(const std::string& name) const;  // link exists at this path ("/a/b")
  void create_group(const std::string& name);

  // ---- attributes on an object (default the root group) ----
  template <typename T>
  void write_attr(const std::string& name, T value, const std::string& obj = "/");
  template <typename T>
  void write_attr_vec(const std::string& name, const std::vector<T>& v,
                      const std::string& obj = "/");
  void write_attr_str(const std::string& name, const std::string& value,
                      const std::string& obj = "/");
  bool has_attr(const std::string& name, const std::string& obj = "/") const;
  template <typename T>
  T read_attr(const std::string& name, const std::string& obj = "/") const;
  template <typename T>
  std::vector<T> read_attr_vec(const std::string& name, const std::string& obj = "/") const;
  std::string read_attr_str(const std::string& name, const std::string& obj = "/") const;

  // ---- whole datasets ----
  // dims empty = 1-D of v.size(). chunk_rows > 0 makes it chunked (rows x all columns) with a
  // fletcher32 checksum and, when `compress`, shuffle+deflate.
  template <typename T>
  void write(const std::string& name, const std::vector<T>& v, std::vector<hsize_t> dims = {},
             hsize_t chunk_rows = 0, bool compress = false);
  void write_strings(const std::string& name, const std::vector<std::string>& v);
  template <typename T>
  std::vector<T> read(const std::string& name, std::vector<hsize_t>* dims = nullptr) const;
  std::vector<std::string> read_strings(const std::string& name) const;
  // Rows [row0, row0 + nrows) of a 1-D string dataset (FormatError past its end).
  std::vector<std::string> read_strings(const std::string& name, hsize_t row0, hsize_t nrows) const;
  // Rows [row0, row0 + nrows) of a 1-D or 2-D dataset (all columns).
  template <typename T>
  std::vector<T> read_rows(const std::string& name, hsize_t row0, hsize_t nrows) const;
  std::vector<hsize_t> dims(const std::string& name) const;

 private:
  Handle open_obj(const std::string& obj) const;
  Handle h_;
  std::string path_;
};

// A 2-D dataset [rows, cols] (1-D when cols == 0) that grows by appending rows; chunked, by
// default with a fletcher32 checksum so corrupt chunks are detected on read. Rows are buffered
// and written a whole chunk at a time (memory use is one chunk); call flush() before closing the
// file -- the destructor drops unflushed rows, so an abandoned writer costs nothing.
// fletcher32 = false writes unfiltered chunks, which RowReader can read byte-exactly (a filtered
// chunk is always read and verified whole); the caller then keeps its own checksums.
template <typename T>
class Appender {
 public:
  Appender(File& f, const std::string& name, hsize_t cols, hsize_t chunk_rows,
           bool fletcher32 = true);
  void append(const T* rows, hsize_t nrows);
  void flush();
  hsize_t rows() const { return written_ + buffered_; }  // including buffered rows

 private:
  void write_rows(const T* rows, hsize_t nrows);
  File* f_;
  std::string name_;
  Handle ds_;
  hsize_t cols_, chunk_rows_, written_ = 0, buffered_ = 0;
  std::vector<T> buf_;
};

// Row ranges of one 1-D or 2-D dataset, the dataset kept open between reads. For an unfiltered
// chunked (or contiguous) dataset the chunk cache is switched off, so HDF5 reads exactly the
// selected bytes from the file (measured: 1.00x of the bytes asked for, against ~10x through the
// default 1 MiB cache or with a filter when utterances are ~10x smaller than a chunk and visited
// in random order); a filtered dataset (fletcher32) keeps the default cache, since each of its
// chunks must be read whole to be verified.
template <typename T>
class RowReader {
 public:
  RowReader() = default;
  RowReader(const File& f, const std::string& name);
  bool valid() const { return ds_.valid(); }
  hsize_t rows() const { return rows_; }
  hsize_t cols() const { return cols_; }  // 1 for a 1-D dataset
  bool filtered() const { return filtered_; }
  // Rows [row0, row0 + nrows) into out (nrows * cols values). FormatError naming the file and the
  // dataset on a range past the end or a failed read (e.g. a fletcher32 mismatch).
  void read(hsize_t row0, hsize_t nrows, T* out) const;

 private:
  std::string path_, name_;
  Handle ds_;
  int rank_ = 1;
  hsize_t rows_ = 0, cols_ = 1;
  bool filtered_ = false;
};

// Switches off HDF5's automatic error printing for the calling thread (idempotent; called by
// File::create/open).
void quiet_errors();

}  // namespace ds2::h5
