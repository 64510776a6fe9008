// flowsynth_host: load an exported flowsynth bundle (TorchScript) and turn latent or macro
// vectors read on stdin into normalized synth parameters on stdout. No Python involved: this
// is the seed of a Max or Pd external, which would call the same methods per control tick.
//
//   flowsynth_host BUNDLE [--mode latent|macros|scores|encode] [--threads N] [--bench N]
//   flowsynth_host BUNDLE --info
//
// BUNDLE is an export folder (holding model.ts) or a .ts file. Each stdin line is one vector
// of whitespace-separated floats: D latent values (latent, scores), 8 dial values in [0, 1]
// (macros; the other latent dimensions stay at the model's center) or N parameter values
// (encode: preset -> latent). Each answer is one line, floats printed with 9 significant
// digits so float32 values round-trip exactly. Timing of each call goes to stderr as JSON at
// the end; --bench N re-runs the first input N times and reports p50/p90 of those calls.

#include <ATen/Parallel.h>
#include <torch/script.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <sstream>
#include <string>
#include <sys/stat.h>
#include <vector>

namespace {

struct Options {
  std::string bundle;
  std::string mode = "latent";
  int threads = 1;
  int bench = 0;
  bool info = false;
};

[[noreturn]] void usage(const std::string& why) {
  std::cerr << "flowsynth_host: " << why << "\n"
            << "usage: flowsynth_host BUNDLE [--mode latent|macros|scores|encode] "
               "[--threads N] [--bench N] [--info]\n";
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
    else if (a == "--threads") o.threads = std::atoi(value().c_str());
    else if (a == "--bench") o.bench = std::atoi(value().c_str());
    else if (a == "--info") o.info = true;
    else if (!a.empty() && a[0] == '-') usage("unknown option " + a);
    else o.bundle = a;
  }
  if (o.bundle.empty()) usage("no bundle given");
  if (o.mode != "latent" && o.mode != "macros" && o.mode != "scores" && o.mode != "encode")
    usage("--mode must be latent, macros, scores or encode");
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

  // The whole request path, timed as one call: what an external does per control tick.
  auto call = [&](const torch::Tensor& x) -> torch::Tensor {
    if (opt.mode == "latent") return model.get_method("params_from_latent")({x}).toTensor();
    if (opt.mode == "scores") return model.get_method("param_scores")({x}).toTensor();
    if (opt.mode == "encode") return model.get_method("latent_from_params")({x}).toTensor();
    auto z = model.get_method("latent_from_macros")({x, center}).toTensor();
    return model.get_method("params_from_latent")({z}).toTensor();
  };

  std::vector<double> times_us;
  torch::Tensor first;
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
    torch::Tensor x = torch::from_blob(values.data(), {1, width}, torch::kFloat32).clone();
    if (!first.defined()) first = x;
    auto t0 = std::chrono::steady_clock::now();
    torch::Tensor y = call(x).contiguous();
    auto t1 = std::chrono::steady_clock::now();
    times_us.push_back(std::chrono::duration<double, std::micro>(t1 - t0).count());
    const float* p = y.data_ptr<float>();
    std::string out;
    for (int64_t i = 0; i < y.size(1); ++i) {
      std::snprintf(buf, sizeof buf, i ? " %.9g" : "%.9g", static_cast<double>(p[i]));
      out += buf;
    }
    std::cout << out << "\n";
  }
  std::cout.flush();

  std::vector<double> bench_us;
  if (opt.bench > 0 && first.defined()) {
    for (int i = 0; i < std::max(20, opt.bench / 10); ++i) call(first);  // warm-up
    for (int i = 0; i < opt.bench; ++i) {
      auto t0 = std::chrono::steady_clock::now();
      call(first);
      auto t1 = std::chrono::steady_clock::now();
      bench_us.push_back(std::chrono::duration<double, std::micro>(t1 - t0).count());
    }
  }
  std::fprintf(stderr,
               "{\"mode\": \"%s\", \"threads\": %d, \"calls\": %zu, \"call_p50_us\": %.2f, "
               "\"bench_calls\": %zu, \"bench_p50_us\": %.2f, \"bench_p90_us\": %.2f, "
               "\"bench_min_us\": %.2f}\n",
               opt.mode.c_str(), opt.threads, times_us.size(), percentile(times_us, 0.5),
               bench_us.size(), percentile(bench_us, 0.5), percentile(bench_us, 0.9),
               bench_us.empty() ? 0.0 : *std::min_element(bench_us.begin(), bench_us.end()));
  return 0;
}
