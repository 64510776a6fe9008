// flowsynth_host: load an exported flowsynth bundle (TorchScript) and turn latent or macro
// vectors read on stdin into normalized synth parameters on stdout. No Python involved: this
// is the seed of a Max or Pd external, which would call the same methods per control tick.
//
//   flowsynth_host BUNDLE [--mode latent|macros|scores|encode] [--engine auto|native|torchscript]
//                         [--threads N] [--bench N]
//   flowsynth_host BUNDLE --info
//
// BUNDLE is an export folder (holding model.ts) or a .ts file. Each stdin line is one vector
// of whitespace-separated floats: D latent values (latent, scores), 8 dial values in [0, 1]
// (macros; the other latent dimensions stay at the model's center) or N parameter values
// (encode: preset -> latent). Each answer is one line, floats printed with 9 significant
// digits so float32 values round-trip exactly. Timing of each call goes to stderr as JSON at
// the end; --bench N re-runs the first input N times and reports p50/p90 of those calls.
//
// Engines: z -> v (latent, scores, and the flow half of macros) runs natively by default
// (native_flow.h: the regression flow and the decode in plain C++, weights read from the
// module), because LibTorch's per-op dispatch costs ~300 us per call at batch 1 where the
// arithmetic costs a few. `--engine torchscript` runs every method through LibTorch;
// `--engine native` refuses a bundle whose flow the native path cannot run, `auto` falls back.
// encode (the inverse flow) and the dial maths of macros always run in LibTorch.

#include <ATen/Parallel.h>
#include <torch/script.h>

#include "native_flow.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <memory>
#include <sstream>
#include <string>
#include <sys/stat.h>
#include <vector>

namespace {

struct Options {
  std::string bundle;
  std::string mode = "latent";
  std::string engine = "auto";
  int threads = 1;
  int bench = 0;
  bool info = false;
};

[[noreturn]] void usage(const std::string& why) {
  std::cerr << "flowsynth_host: " << why << "\n"
            << "usage: flowsynth_host BUNDLE [--mode latent|macros|scores|encode] "
               "[--engine auto|native|torchscript] [--threads N] [--bench N] [--info]\n";
  std::exit(2);
}

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) usage(a + " needs a value");
      return argv[++i];
    };
    if (a == "--mode") o.mode = value();
    else if (a == "--engine") o.engine = value();
    else if (a == "--threads") o.threads = std::atoi(value().c_str());
    else if (a == "--bench") o.bench = std::atoi(value().c_str());
    else if (a == "--info") o.info = true;
    else if (!a.empty() && a[0] == '-') usage("unknown option " + a);
    else o.bundle = a;
  }
  if (o.bundle.empty()) usage("no bundle given");
  if (o.mode != "latent" && o.mode != "macros" && o.mode != "scores" && o.mode != "encode")
    usage("--mode must be latent, macros, scores or encode");
  if (o.engine != "auto" && o.engine != "native" && o.engine != "torchscript")
    usage("--engine must be auto, native or torchscript");
  if (o.threads < 1) usage("--threads must be at least 1");
  return o;
}

std::string model_file(const std::string& bundle) {
  struct stat st{};
  if (stat(bundle.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) return bundle + "/model.ts";
  return bundle;
}

double percentile(std::vector<double> v, double q) {
  if (v.empty()) return 0.0;
  std::sort(v.begin(), v.end());
  return v[static_cast<size_t>(q * static_cast<double>(v.size() - 1) + 0.5)];
}

}  // namespace

int main(int argc, char** argv) {
  Options opt = parse(argc, argv);
  // One thread by default: a control-rate call on a single point gains nothing from a pool,
  // and an audio host must not have its cores taken.
  at::set_num_threads(opt.threads);
  at::set_num_interop_threads(1);
  c10::InferenceMode guard;

  torch::jit::script::Module model;
  try {
    model = torch::jit::load(model_file(opt.bundle));
  } catch (const std::exception& e) {
    std::cerr << "flowsynth_host: cannot load " << model_file(opt.bundle)
              << ": is it a bundle from `flowsynth export`?\n" << e.what() << "\n";
    return 2;
  }
  model.eval();
  if (opt.info) {
    std::cout << model.get_method("metadata")({}).toStringRef() << "\n";
    return 0;
  }

  const torch::Tensor center = model.get_method("center")({}).toTensor();
  const int64_t latent_dim = center.size(1);
  const int64_t n_macros = model.attr("n_macros").toInt();
  const int64_t n_params = model.attr("n_params").toInt();
  const int64_t width = opt.mode == "macros" ? n_macros
                        : opt.mode == "encode" ? n_params : latent_dim;
  const int64_t out_width = opt.mode == "encode" ? latent_dim
                            : opt.mode == "scores" ? model.attr("codec").toModule()
                                                         .attr("size").toInt()
                                                   : n_params;

  std::unique_ptr<flowsynth::NativeRegression> native;
  std::string engine = "torchscript";
  if (opt.engine != "torchscript" && opt.mode != "encode") {
    try {
      native = std::make_unique<flowsynth::NativeRegression>(model);
      engine = "native";
    } catch (const std::exception& e) {
      if (opt.engine == "native") {
        std::cerr << "flowsynth_host: --engine native cannot run this bundle: " << e.what()
                  << "; use --engine torchscript\n";
        return 2;
      }
    }
  }

  // The whole request path, timed as one call: what an external does per control tick.
  auto run = [&](const char* method, std::vector<c10::IValue> args) -> torch::Tensor {
    return model.get_method(method)(std::move(args)).toTensor().contiguous();
  };
  auto copy_out = [](const torch::Tensor& t, std::vector<float>& out) {
    std::memcpy(out.data(), t.data_ptr<float>(), sizeof(float) * out.size());
  };
  auto call = [&](std::vector<float>& in, std::vector<float>& out) {
    if (native && opt.mode == "latent") return native->params(in.data(), out.data());
    if (native && opt.mode == "scores") return native->scores(in.data(), out.data());
    torch::Tensor x = torch::from_blob(in.data(), {1, width}, torch::kFloat32);
    if (opt.mode == "latent") return copy_out(run("params_from_latent", {x}), out);
    if (opt.mode == "scores") return copy_out(run("param_scores", {x}), out);
    if (opt.mode == "encode") return copy_out(run("latent_from_params", {x}), out);
    torch::Tensor z = run("latent_from_macros", {x, center});
    if (native) return native->params(z.data_ptr<float>(), out.data());
    copy_out(run("params_from_latent", {z}), out);
  };

  std::vector<double> times_us;
  std::vector<float> first, y(out_width);
  std::string line;
  char buf[32];
  while (std::getline(std::cin, line)) {
    std::istringstream in(line);
    std::vector<float> values;
    float f;
    while (in >> f) values.push_back(f);
    if (values.empty()) continue;
    if (static_cast<int64_t>(values.size()) != width) {
      std::cerr << "flowsynth_host: expected " << width << " values per line for --mode "
                << opt.mode << ", got " << values.size() << "\n";
      return 2;
    }
    if (first.empty()) first = values;
    auto t0 = std::chrono::steady_clock::now();
    call(values, y);
    auto t1 = std::chrono::steady_clock::now();
    times_us.push_back(std::chrono::duration<double, std::micro>(t1 - t0).count());
    std::string out;
    for (size_t i = 0; i < y.size(); ++i) {
      std::snprintf(buf, sizeof buf, i ? " %.9g" : "%.9g", static_cast<double>(y[i]));
      out += buf;
    }
    std::cout << out << "\n";
  }
  std::cout.flush();

  std::vector<double> bench_us;
  if (opt.bench > 0 && !first.empty()) {
    for (int i = 0; i < std::max(20, opt.bench / 10); ++i) call(first, y);  // warm-up
    for (int i = 0; i < opt.bench; ++i) {
      auto t0 = std::chrono::steady_clock::now();
      call(first, y);
      auto t1 = std::chrono::steady_clock::now();
      bench_us.push_back(std::chrono::duration<double, std::micro>(t1 - t0).count());
    }
  }
  std::fprintf(stderr,
               "{\"mode\": \"%s\", \"engine\": \"%s\", \"threads\": %d, \"calls\": %zu, "
               "\"call_p50_us\": %.2f, "
               "\"bench_calls\": %zu, \"bench_p50_us\": %.2f, \"bench_p90_us\": %.2f, "
               "\"bench_min_us\": %.2f}\n",
               opt.mode.c_str(), engine.c_str(), opt.threads, times_us.size(),
               percentile(times_us, 0.5),
               bench_us.size(), percentile(bench_us, 0.5), percentile(bench_us, 0.9),
               bench_us.empty() ? 0.0 : *std::min_element(bench_us.begin(), bench_us.end()));
  return 0;
}
