// Device selection, the backend factory and the Buffer type.
#include "model/backend.h"

#include "core/error.h"
#include "ds2/config.h"
#include "model/cpu/cpu_backend.h"
#include "model/tensor.h"
#ifdef DS2_HAS_CUDA
#include "model/cuda/cuda_backend.h"
#endif

namespace ds2::model {

Device parse_device(const std::string& name) {
  if (name == "cpu") return Device::kCpu;
  if (name == "cuda") return Device::kCuda;
  DS2_THROW(ConfigError, "model.device: unknown device '{}' (cpu or cuda)", name);
}

std::string device_name(Device d) { return d == Device::kCpu ? "cpu" : "cuda"; }

std::unique_ptr<Backend> make_backend(Device device, int num_threads) {
  if (device == Device::kCpu) return std::make_unique<cpu::CpuBackend>(num_threads);
#ifdef DS2_HAS_CUDA
  std::string why;
  DS2_REQUIRE(cuda::CudaBackend::device_count(&why) > 0, ConfigError,
              "model.device=cuda: no usable CUDA device: {}", why);
  return std::make_unique<cuda::CudaBackend>();  // num_threads: not used on the GPU
#else
  DS2_THROW(ConfigError, "model.device=cuda: ds2 was built without CUDA (DS2_CUDA=OFF or no nvcc)");
#endif
}

std::string shape_string(const std::vector<int>& shape) {
  std::string s = "(";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + ")";
}

Buffer& Buffer::operator=(Buffer&& o) noexcept {
  if (this != &o) {
    release();
    backend_ = o.backend_;
    data_ = o.data_;
    capacity_ = o.capacity_;
    o.data_ = nullptr;
    o.capacity_ = 0;
  }
  return *this;
}

void Buffer::set_backend(Backend* backend) {
  release();
  backend_ = backend;
}

float* Buffer::ensure(size_t n) {
  if (n <= capacity_) return data_;
  DS2_REQUIRE(backend_, Error, "Buffer::ensure({}) without a backend", n);
  release();
  data_ = backend_->alloc(n);
  capacity_ = n;
  return data_;
}

void Buffer::release() {
  if (data_ && backend_) backend_->free(data_);
  data_ = nullptr;
  capacity_ = 0;
}

}  // namespace ds2::model
