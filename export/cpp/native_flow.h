// The native z -> v path of flowsynth_host: the regression flow (RealNVP affine couplings with
// residual nets) and the parameter codec's decode in plain C++, on float arrays.
//
// Why: at batch 1 the TorchScript module spends nearly all of its time in LibTorch's
// per-operator dispatch (~130 small ops per call), not in arithmetic; one call of the shipped
// flow is ~0.5 M multiply-adds, a few microseconds of FMA work. The weights and the decode
// tables are read from the loaded TorchScript module itself (its parameters and buffers), so
// there is one file, no second copy of the model that could drift from it.
//
// What is the same as Python and what is not: the decode (clamp, snapping to steps in float64,
// one-hot argmax with the first maximum winning, k / (steps - 1)) is the codec's exact
// arithmetic, so equal scores decode to bit-equal values. The flow sums its dot products in
// another order than the BLAS behind torch (and exp/tanh come from libm), so the scores agree
// to float32 rounding, not to the bit; tests/test_cpp_host.py bounds the difference and
// checks the decoded categories and steps.

#pragma once

#include <torch/script.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

namespace flowsynth {

// Eight floats as one value: GCC and Clang compile its arithmetic to one AVX instruction
// (two SSE ones without AVX), so the kernels below vectorize without -ffast-math, which would
// also license reorderings elsewhere.
typedef float f8 __attribute__((vector_size(32)));

inline f8 load8(const float* p) {
  f8 v;
  std::memcpy(&v, p, sizeof v);  // unaligned load, no aliasing games
  return v;
}

inline float hsum(f8 v) {
  return ((v[0] + v[4]) + (v[1] + v[5])) + ((v[2] + v[6]) + (v[3] + v[7]));
}

inline int pad8(int n) { return (n + 7) / 8 * 8; }

inline std::vector<float> floats(const at::Tensor& t) {
  at::Tensor c = t.detach().to(at::kFloat).contiguous();
  return std::vector<float>(c.data_ptr<float>(), c.data_ptr<float>() + c.numel());
}

inline std::vector<int64_t> longs(const at::Tensor& t) {
  at::Tensor c = t.detach().to(at::kLong).contiguous();
  return std::vector<int64_t>(c.data_ptr<int64_t>(), c.data_ptr<int64_t>() + c.numel());
}

// y = W x + b. Rows are padded to a multiple of 8 with zero weights, and callers keep the
// input's padding at zero, so the kernel has no remainder loop.
struct Linear {
  int in = 0, out = 0, stride = 0;
  std::vector<float> w;  // [out][stride]
  std::vector<float> b;

  explicit Linear(const torch::jit::Module& m) {
    at::Tensor weight = m.attr("weight").toTensor();
    if (weight.dim() != 2) throw std::runtime_error("a linear layer's weight is not 2-D");
    out = static_cast<int>(weight.size(0));
    in = static_cast<int>(weight.size(1));
    stride = pad8(in);
    std::vector<float> dense = floats(weight);
    w.assign(static_cast<size_t>(out) * stride, 0.0f);
    for (int i = 0; i < out; ++i)
      std::memcpy(&w[static_cast<size_t>(i) * stride], &dense[static_cast<size_t>(i) * in],
                  sizeof(float) * in);
    b = m.hasattr("bias") && m.attr("bias").isTensor() ? floats(m.attr("bias").toTensor())
                                                        : std::vector<float>(out, 0.0f);
  }

  void apply(const float* __restrict x, float* __restrict y) const {
    int i = 0;
    // Four rows at a time share each load of x.
    for (; i + 4 <= out; i += 4) {
      const float* w0 = &w[static_cast<size_t>(i) * stride];
      const float* w1 = w0 + stride;
      const float* w2 = w1 + stride;
      const float* w3 = w2 + stride;
      f8 a0 = {}, a1 = {}, a2 = {}, a3 = {};
      for (int j = 0; j < stride; j += 8) {
        const f8 xv = load8(x + j);
        a0 += load8(w0 + j) * xv;
        a1 += load8(w1 + j) * xv;
        a2 += load8(w2 + j) * xv;
        a3 += load8(w3 + j) * xv;
      }
      y[i] = hsum(a0) + b[i];
      y[i + 1] = hsum(a1) + b[i + 1];
      y[i + 2] = hsum(a2) + b[i + 2];
      y[i + 3] = hsum(a3) + b[i + 3];
    }
    for (; i < out; ++i) {
      const float* wi = &w[static_cast<size_t>(i) * stride];
      f8 a = {};
      for (int j = 0; j < stride; j += 8) a += load8(wi + j) * load8(x + j);
      y[i] = hsum(a) + b[i];
    }
  }
};

// nflows' ResidualNet without context: initial, blocks of h + L2(relu(L1(relu(h)))), final.
struct ResNet {
  Linear initial, final_;
  std::vector<Linear> firsts, seconds;
  int hidden = 0;

  explicit ResNet(const torch::jit::Module& net)
      : initial(net.attr("initial").toModule()), final_(net.attr("final").toModule()) {
    for (const auto& child : net.attr("blocks").toModule().named_children()) {
      firsts.emplace_back(child.value.attr("first").toModule());
      seconds.emplace_back(child.value.attr("second").toModule());
    }
    hidden = initial.out;
    auto bad = [&](const Linear& l, int in, int out) { return l.in != in || l.out != out; };
    for (size_t k = 0; k < firsts.size(); ++k)
      if (bad(firsts[k], hidden, hidden) || bad(seconds[k], hidden, hidden))
        throw std::runtime_error("a residual block's shape does not match its net");
    if (final_.in != hidden) throw std::runtime_error("a coupling net's final layer mismatches");
  }

  // x: initial.stride floats (zero padded); h, t: scratch of pad8(hidden); y: final_.out.
  void apply(const float* x, float* h, float* t, float* u, float* y) const {
    initial.apply(x, h);
    for (size_t k = 0; k < firsts.size(); ++k) {
      for (int i = 0; i < hidden; ++i) t[i] = h[i] > 0.0f ? h[i] : 0.0f;
      firsts[k].apply(t, u);
      for (int i = 0; i < hidden; ++i) u[i] = u[i] > 0.0f ? u[i] : 0.0f;
      seconds[k].apply(u, t);
      for (int i = 0; i < hidden; ++i) h[i] += t[i];
    }
    final_.apply(h, y);
  }
};

// One affine coupling (bridge/exporting/flows.py Coupling): the identity half goes through
// the net, the other half becomes x * scale + shift.
struct Coupling {
  std::vector<int64_t> identity, transform;
  int n = 0;
  float bound = 0.0f;  // > 0: exp(bound * tanh(s)); 0: nflows' sigmoid(s + 2) + 1e-3
  ResNet net;

  explicit Coupling(const torch::jit::Module& m)
      : identity(longs(m.attr("identity").toTensor())),
        transform(longs(m.attr("transform").toTensor())),
        n(static_cast<int>(m.attr("n").toInt())),
        bound(static_cast<float>(m.attr("bound").toDouble())),
        net(m.attr("net").toModule()) {
    if (static_cast<int>(transform.size()) != n || net.initial.in != (int)identity.size() ||
        net.final_.out != 2 * n)
      throw std::runtime_error("a coupling layer's net does not match its mask");
  }
};

// The parameter codec's decode (bridge/exporting/codec.py ParamCodec.decode).
struct Decoder {
  int size = 0, n_params = 0;
  std::vector<int64_t> num_col, num_out, cat_start, cat_width, cat_out;
  std::vector<uint8_t> num_discrete;
  std::vector<double> num_div, cat_div;

  explicit Decoder(const torch::jit::Module& codec)
      : size(static_cast<int>(codec.attr("size").toInt())),
        n_params(static_cast<int>(codec.attr("n_params").toInt())),
        num_col(longs(codec.attr("num_col").toTensor())),
        num_out(longs(codec.attr("num_out").toTensor())),
        cat_start(longs(codec.attr("cat_start").toTensor())),
        cat_out(longs(codec.attr("cat_out").toTensor())) {
    at::Tensor disc = codec.attr("num_discrete").toTensor().to(at::kByte).contiguous();
    num_discrete.assign(disc.data_ptr<uint8_t>(), disc.data_ptr<uint8_t>() + disc.numel());
    at::Tensor nd = codec.attr("num_div").toTensor().to(at::kDouble).contiguous();
    num_div.assign(nd.data_ptr<double>(), nd.data_ptr<double>() + nd.numel());
    at::Tensor cd = codec.attr("cat_div").toTensor().to(at::kDouble).contiguous();
    cat_div.assign(cd.data_ptr<double>(), cd.data_ptr<double>() + cd.numel());
    // Group widths from the padded column table: padding points at column `size`.
    at::Tensor cols = codec.attr("cat_cols").toTensor().to(at::kLong).contiguous();
    const int64_t groups = cat_start.size();
    const int64_t wmax = groups ? cols.size(1) : 0;
    const int64_t* c = cols.data_ptr<int64_t>();
    for (int64_t g = 0; g < groups; ++g) {
      int64_t w = 0;
      while (w < wmax && c[g * wmax + w] != size) ++w;
      cat_width.push_back(w);
    }
  }

  // torch.clamp keeps NaN, as np.clip does; std::clamp would not.
  static double clamp01(double u) {
    if (std::isnan(u)) return u;
    return u < 0.0 ? 0.0 : (u > 1.0 ? 1.0 : u);
  }

  void decode(const float* scores, float* out) const {
    for (size_t k = 0; k < num_col.size(); ++k) {
      double u = clamp01(static_cast<double>(scores[num_col[k]]));
      // torch.round and np.round round halves to even, as nearbyint does by default.
      if (num_discrete[k]) u = std::nearbyint(u * num_div[k]) / num_div[k];
      out[num_out[k]] = static_cast<float>(u);
    }
    for (size_t g = 0; g < cat_start.size(); ++g) {
      const float* s = scores + cat_start[g];
      // First maximum wins; a NaN counts as the maximum (torch.argmax and np.argmax agree).
      int64_t best = 0;
      if (!std::isnan(s[0]))
        for (int64_t j = 1; j < cat_width[g]; ++j) {
          if (std::isnan(s[j])) { best = j; break; }
          if (s[j] > s[best]) best = j;
        }
      out[cat_out[g]] = static_cast<float>(static_cast<double>(best) / cat_div[g]);
    }
  }

  // ParamCodec.clamp_scores: numerical columns into [0, 1], one-hot scores untouched.
  void clamp_scores(float* scores) const {
    for (int64_t col : num_col) {
      float& u = scores[col];
      if (!std::isnan(u)) u = u < 0.0f ? 0.0f : (u > 1.0f ? 1.0f : u);
    }
  }
};

// The regression flow and the decode, with all scratch space allocated once: a call does no
// allocation, so it is fit for a control-rate callback. The scratch space makes an instance
// single-threaded: one per external or per thread.
class NativeRegression {
 public:
  // Throws std::runtime_error, saying why, when the module's regression flow has a layer this
  // path does not implement (the caller falls back to TorchScript).
  explicit NativeRegression(const torch::jit::Module& model)
      : decoder_(model.attr("codec").toModule()) {
    latent_dim_ = static_cast<int>(model.attr("latent_dim").toInt());
    const torch::jit::Module layers =
        model.attr("regression").toModule().attr("layers").toModule();
    int widest = 0, hidden = 0;
    for (const auto& child : layers.named_children()) {
      const auto type = child.value.type()->name();
      const std::string kind = type ? type->name() : std::string("?");
      if (kind != "Coupling")
        throw std::runtime_error("regression flow layer " + kind + " has no native version");
      couplings_.emplace_back(child.value);
      const Coupling& c = couplings_.back();
      widest = std::max({widest, c.net.initial.stride, c.net.final_.out});
      hidden = std::max(hidden, pad8(c.net.hidden));
      for (int64_t i : c.identity)
        if (i < 0 || i >= latent_dim_) throw std::runtime_error("coupling mask out of range");
      for (int64_t i : c.transform)
        if (i < 0 || i >= latent_dim_) throw std::runtime_error("coupling mask out of range");
    }
    if (latent_dim_ != decoder_.size)
      throw std::runtime_error("the regression flow's width differs from the encoded size");
    x_.assign(latent_dim_, 0.0f);
    kept_.assign(widest, 0.0f);
    p_.assign(widest, 0.0f);
    h_.assign(hidden, 0.0f);
    t_.assign(hidden, 0.0f);
    u_.assign(hidden, 0.0f);
  }

  int latent_dim() const { return latent_dim_; }
  int n_params() const { return decoder_.n_params; }
  int encoded_size() const { return decoder_.size; }

  // param_scores(z): the flow's scores with the numerical columns clamped.
  void scores(const float* z, float* out) {
    forward(z);
    std::memcpy(out, x_.data(), sizeof(float) * latent_dim_);
    decoder_.clamp_scores(out);
  }

  // params_from_latent(z): normalized parameters, ready for a synth.
  void params(const float* z, float* out) {
    forward(z);
    decoder_.decode(x_.data(), out);
  }

 private:
  void forward(const float* z) {
    std::memcpy(x_.data(), z, sizeof(float) * latent_dim_);
    for (const Coupling& c : couplings_) {
      const int m = static_cast<int>(c.identity.size());
      for (int i = 0; i < m; ++i) kept_[i] = x_[c.identity[i]];
      // The net reads whole groups of 8: the gathered input's tail must be zero.
      for (int i = m; i < c.net.initial.stride; ++i) kept_[i] = 0.0f;
      c.net.apply(kept_.data(), h_.data(), t_.data(), u_.data(), p_.data());
      // The identity half is unchanged in place; only the transformed half is rewritten.
      for (int i = 0; i < c.n; ++i) {
        const float s = p_[c.n + i];
        const float scale = c.bound > 0.0f ? std::exp(c.bound * std::tanh(s))
                                           : 1.0f / (1.0f + std::exp(-(s + 2.0f))) + 1e-3f;
        float& x = x_[c.transform[i]];
        x = x * scale + p_[i];
      }
    }
  }

  int latent_dim_ = 0;
  Decoder decoder_;
  std::vector<Coupling> couplings_;
  std::vector<float> x_, kept_, p_, h_, t_, u_;
};

}  // namespace flowsynth
