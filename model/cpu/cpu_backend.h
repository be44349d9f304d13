// The CPU backend: OpenBLAS sgemm for every GEMM, OpenMP loops for the rest. The reference
// implementation of model/backend.h; each op's file name matches its model/cuda/ sibling.
#pragma once

#include "model/backend.h"
#include "model/cpu/gemm_prepared.h"

namespace ds2::model::cpu {

class CpuBackend : public Backend {  // not final: tests derive a staging double
 public:
  // num_threads 0: omp_get_max_threads(). Sets OpenBLAS to 1 thread (process-wide): GEMMs are
  // split over this backend's OpenMP threads instead (gemm.cc).
  explicit CpuBackend(int num_threads);
  Device device() const override { return Device::kCpu; }
  int num_threads() const override { return threads_; }

  float* alloc(size_t n) override;
  void free(float* p) override;
  void upload(float* dst, const float* src, size_t n) override;
  void download(float* dst, const float* src, size_t n) override;
  void copy(float* dst, const float* src, size_t n) override;
  void fill(float* x, size_t n, float value) override;

  void gemm(bool trans_a, bool trans_b, int m, int n, int k, float alpha, const float* a, int lda,
            const float* b, int ldb, float beta, float* c, int ldc) override;
  void axpy(size_t n, float alpha, const float* x, float* y) override;
  size_t prepared_size(int k, int n) const override;
  void prepare_b(bool trans, int k, int n, const float* b, int ldb, float* prepared) override;
  void gemm_prepared(int m, int n, int k, const float* a, int lda, const float* prepared,
                     float beta, float* c, int ldc) override;
  void add_bias(float* y, const float* bias, int rows, int cols) override;
  void bias_grad(const float* dy, int rows, int cols, float* db) override;

  void clipped_relu(float* x, size_t n, float clip) override;
  void clipped_relu_backward(const float* y, float* dy, size_t n, float clip) override;
  void mask_rows(float* x, int t0, int t, int n, int d, const int32_t* lengths) override;
  void mask_maps(float* x, int n, int c, int t, int f, const int32_t* lengths) override;
  void maps_to_rows(const float* x, float* y, int n, int c, int t, int f) override;
  void rows_to_maps(const float* y, float* x, int n, int c, int t, int f) override;
  void softmax(const float* x, float* y, int rows, int cols) override;

  void bn_forward_train(const BnLayout& l, const float* x, const float* gamma, const float* beta,
                        float eps, float momentum, float* y, float* save_mean, float* save_invstd,
                        float* running_mean, float* running_var) override;
  void bn_forward_infer(const BnLayout& l, const float* x, const float* gamma, const float* beta,
                        const float* running_mean, const float* running_var, float eps,
                        float* y) override;
  void bn_backward(const BnLayout& l, const float* x, const float* dy, const float* gamma,
                   const float* save_mean, const float* save_invstd, float* dx, float* dgamma,
                   float* dbeta) override;

  void im2col(const ConvGeom& g, const float* x, int t0, int nt, float* col) override;
  void col2im(const ConvGeom& g, const float* col, int t0, int nt, float* dx) override;

  void conv_tap_add(const float* p, int c, int kt, int s0, int m, int pt, int t_out, int f,
                    float* z, int ldz) override;
  void conv_tap_gather(const float* dz, int ldz, int c, int kt, int s0, int m, int pt, int t_out,
                       int f, float* dp) override;
  void rnn_step_forward(int t, int n, int h, const int32_t* lengths, const float* a,
                        const float* uh, float clip, float* hout) override;
  void rnn_step_backward(int t, int n, int h, const int32_t* lengths, const float* hout,
                         const float* dh, float clip, float* da) override;
  void gru_step_forward(int t, int n, int h, const int32_t* lengths, const float* xg,
                        const float* uh, const float* h_prev, float* hout, float* saved) override;
  void gru_step_backward(int t, int n, int h, const int32_t* lengths, const float* h_prev,
                         const float* saved, const float* dh, float* dxg, float* duh,
                         float* dh_prev) override;
  void parallel_tasks(int count, const std::function<void(int)>& task) override;
  void lookahead_forward(const float* x, const float* w, int t, int n, int d, int tau,
                         const int32_t* lengths, float* y) override;
  void lookahead_backward(const float* x, const float* w, const float* dy, int t, int n, int d,
                          int tau, const int32_t* lengths, float* dx, float* dw) override;

  void scale(float* x, size_t n, float alpha) override;
  double sum_squares(const float* x, size_t n) override;
  void sgd_nesterov(float* p, const float* grad, float* v, size_t n, float lr, float mu,
                    float wd) override;
  void broadcast_rows(float* y, const float* row, int rows, int cols) override;

  // Host memory is the backend's memory and ops are synchronous: plain allocation, events that
  // are always complete, transfers that are copies.
  float* alloc_host(size_t n) override { return alloc(n); }
  void free_host(float* p) override { free(p); }
  void* create_event() override;
  void destroy_event(void* e) override;
  void record_event(void*) override {}
  void wait_event(void*) override {}
  bool event_done(void*) override { return true; }
  void transfer_download(float* host_dst, const float* src, size_t n) override;
  void transfer_upload(float* dst, const float* host_src, size_t n) override;

  size_t ctc_workspace_bytes(const CtcShape& shape) override;
  void ctc_loss(const float* act, float* grad, const int32_t* labels, const int32_t* label_lengths,
                const int32_t* input_lengths, const CtcShape& shape, float* costs,
                uint8_t* impossible, void* workspace) override;

 private:
  int threads_;
  PreparedKernel prepared_ = best_prepared_kernel();
};

}  // namespace ds2::model::cpu
