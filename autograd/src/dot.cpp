// Pictures of a graph (dot.hpp): to_dot() writes micrograd's picture as Graphviz DOT text;
// render() has Graphviz draw it, through its library (libgvc) when the build found it
// (SCALARGRAD_HAVE_GVC), else through the `dot` program found on PATH. Only the engine's public
// API is used: graph_of(), op(), constant(), label(), data(), grad().
#include "scalargrad/dot.hpp"

#include <array>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <initializer_list>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "scalargrad/file.hpp"
#include "text.hpp"

#if defined(__unix__) || defined(__APPLE__)
#define SCALARGRAD_POSIX 1
#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>
extern char** environ;  // the environment handed to the dot program
#else
#define SCALARGRAD_POSIX 0
#endif

#if SCALARGRAD_HAVE_GVC
#include <gvc.h>
#endif

namespace scalargrad {
namespace {

namespace fs = std::filesystem;

// ---- 1. Numbers and text ------------------------------------------------------------------------

using detail::concat;

/// `x` as DotOptions documents: fixed with `precision` decimals, scientific when fixed would
/// read 0 for a nonzero x or when |x| >= 10^6; "nan", "inf", "-inf".
std::string format_number(double x, int precision) {
  if (std::isnan(x)) return "nan";
  if (std::isinf(x)) return x > 0 ? "inf" : "-inf";
  if (x == 0.0) x = 0.0;  // -0 reads 0
  std::array<char, 64> buf{};  // fixed: sign, 6 digits, point, 17 decimals at most
  const auto write = [&](std::chars_format format) {
    const auto result = std::to_chars(buf.data(), buf.data() + buf.size(), x, format, precision);
    return std::string(buf.data(), result.ptr);
  };
  if (std::fabs(x) >= 1e6) return write(std::chars_format::scientific);
  std::string fixed = write(std::chars_format::fixed);
  const bool reads_zero = fixed.find_first_of("123456789") == std::string::npos;
  // Rounded up to 10^6 (999999.99999 at 4 decimals reads 1000000.0000): scientific, as 10^6 is.
  const std::size_t integer_digits = fixed.find('.') == std::string::npos ? fixed.size() : fixed.find('.');
  const bool reads_a_million = integer_digits - (x < 0.0 ? 1 : 0) > 6;
  return (reads_zero && x != 0.0) || reads_a_million ? write(std::chars_format::scientific) : fixed;
}

/// Appends `text` for a DOT "quoted string" shown as a label: \ and " are escaped, & becomes
/// &amp; (so that "&lt;" shows as typed), a newline becomes \n (a line break), a carriage
/// return is dropped, other control characters become a space. In a record field (`record`),
/// { } | < > are escaped too (they would separate fields or name ports), and so are the spaces
/// a record would drop: leading, trailing, and all but the first of a run. Single spaces inside
/// stay plain: once a field has an escaped ("hard") space, Graphviz keeps the trailing space of
/// every later field of the record, a small blemish that plain spaces avoid.
void append_escaped(std::string& out, std::string_view text, bool record) {
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    switch (c) {
      case '\\': out += "\\\\"; break;  // a literal backslash (Graphviz reads \\ as \)
      case '"': out += "\\\""; break;
      case '\n': out += "\\n"; break;
      case '\r': break;
      case '&': out += "&amp;"; break;  // Graphviz decodes entities (&lt;, &#65;) in every string
      case '{': case '}': case '|': case '<': case '>':
        if (record) out += '\\';
        out += c;
        break;
      case ' ':
        if (record && (i == 0 || i + 1 == text.size() || text[i - 1] == ' ')) out += '\\';
        out += c;
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
          out += record ? "\\ " : " ";
        } else {
          out += c;
        }
    }
  }
}

/// `text` as a DOT ID: as is when it is a plain identifier, else a quoted string.
std::string dot_id(std::string_view text) {
  const bool plain = !text.empty() && std::isdigit(static_cast<unsigned char>(text[0])) == 0 &&
                     text.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                            "0123456789_") == std::string_view::npos;
  if (plain) return std::string(text);
  std::string out = "\"";
  append_escaped(out, text, false);
  out += '"';
  return out;
}

// ---- 2. What an op's ellipse says ---------------------------------------------------------------

/// The text of the ellipse of `result`'s op: its name, and its constant on the side where it
/// stands in the expression: "* 2" (x * 2), "+ -1" (x - 1), "2 -" (2 - x), "/ 2" (x / 2),
/// "2 /" (2 / x), "pow 3" (x^3), "2 pow" (2^x), "leaky_relu 0.01".
/// (The engine records x - c as x + (-c): Value::constant_on_left() tells the other cases.)
std::string op_text(const Value& result, const std::vector<std::size_t>& operands) {
  std::string text(result.op());
  const std::optional<double> constant = result.constant();
  if (!constant || operands.size() != 1) return text;
  const std::string shown = detail::shortest(*constant);
  return result.constant_on_left() ? concat({shown, " ", text}) : concat({text, " ", shown});
}

// ---- 3. Colours: |grad| on a log10 scale ----------------------------------------------------------

/// A fill colour, a text colour that reads on it, and the range of |grad| it stands for.
struct Shade {
  std::string_view fill;
  std::string_view font;
  std::string_view range;
};

/// One shade per decade of |grad|, viridis from dark to light: kDecades[k] for
/// kDecadeFloor[k] <= |grad| (< the floor before), the last one for 0 < |grad| < 1e-8.
constexpr std::array<Shade, 10> kDecades = {{
    {"#440154", "white", "&gt;= 1"},
    {"#482878", "white", "[1e-1, 1)"},
    {"#3e4989", "white", "[1e-2, 1e-1)"},
    {"#31688e", "white", "[1e-3, 1e-2)"},
    {"#26828e", "white", "[1e-4, 1e-3)"},
    {"#1f9e89", "black", "[1e-5, 1e-4)"},
    {"#35b779", "black", "[1e-6, 1e-5)"},
    {"#6ece58", "black", "[1e-7, 1e-6)"},
    {"#b5de2b", "black", "[1e-8, 1e-7)"},
    {"#fde725", "black", "(0, 1e-8)"},
}};
constexpr std::array<double, 9> kDecadeFloor = {1.0, 1e-1, 1e-2, 1e-3, 1e-4, 1e-5, 1e-6, 1e-7, 1e-8};
constexpr Shade kZeroShade{"#d9d9d9", "black", "0"};          // nothing flows back
constexpr Shade kNotFiniteShade{"#e41a1c", "white", "nan, inf"};  // exploded

const Shade& shade_of(double grad) {
  if (!std::isfinite(grad)) return kNotFiniteShade;
  const double magnitude = std::fabs(grad);
  if (magnitude == 0.0) return kZeroShade;
  for (std::size_t k = 0; k < kDecadeFloor.size(); ++k) {
    if (magnitude >= kDecadeFloor[k]) return kDecades[k];
  }
  return kDecades.back();
}

/// The legend of the colour scale: a comment and a table node.
void append_legend(std::string& out) {
  out += "  // Fill: |grad| on a log10 scale, one viridis shade per decade, darkest for |grad| >= 1,\n"
         "  // lightest below 1e-8; grey for a gradient of 0, red for nan or inf.\n";
  out += "  legend [shape=plaintext, label=<<table border=\"0\" cellborder=\"1\" cellspacing=\"0\">\n"
         "    <tr><td>|grad|</td></tr>\n";
  const auto row = [&out](const Shade& shade) {
    out += "    <tr><td bgcolor=\"";
    out += shade.fill;
    out += "\"><font color=\"";
    out += shade.font;
    out += "\">";
    out += shade.range;
    out += "</font></td></tr>\n";
  };
  for (const Shade& shade : kDecades) row(shade);
  row(kZeroShade);
  row(kNotFiniteShade);
  out += "  </table>>];\n";
}

// ---- 4. Clusters (the rule is in DotOptions' doc comment) ---------------------------------------

constexpr std::size_t kNoCluster = static_cast<std::size_t>(-1);

/// Splits "<cluster>/<name>" at the last '/'; nothing if either part is empty.
std::optional<std::pair<std::string, std::string>> split_cluster_label(const std::string& label) {
  const std::size_t slash = label.rfind('/');
  if (slash == std::string::npos || slash == 0 || slash + 1 == label.size()) return std::nullopt;
  return std::pair{label.substr(0, slash), label.substr(slash + 1)};
}

/// The cluster all of `candidates` are in, if there is at least one and they agree.
std::size_t agreed_cluster(const std::vector<std::size_t>& candidates) {
  if (candidates.empty()) return kNoCluster;
  for (const std::size_t c : candidates) {
    if (c != candidates.front()) return kNoCluster;
  }
  return candidates.front();
}

/// What to_dot() draws for each value: the name in its record and its cluster.
struct Layout {
  std::vector<std::string> names;     // by node: the label, or the <name> of "<cluster>/<name>"
  std::vector<std::size_t> clusters;  // by node: index in `titles`, or kNoCluster
  std::vector<std::string> titles;    // cluster titles, in order of first appearance
};

Layout lay_out(const Graph& graph, bool cluster_layers) {
  const std::size_t n = graph.nodes.size();
  Layout layout{std::vector<std::string>(n), std::vector<std::size_t>(n, kNoCluster), {}};
  std::map<std::string, std::size_t> index;  // title -> position in layout.titles
  std::vector<bool> cluster_labelled(n, false);
  for (std::size_t i = 0; i < n; ++i) {  // operands come first: their clusters are known
    const Value& v = graph.nodes[i];
    layout.names[i] = v.label();
    if (!cluster_layers) continue;
    if (auto split = split_cluster_label(layout.names[i])) {
      const auto [it, added] = index.try_emplace(split->first, layout.titles.size());
      if (added) layout.titles.push_back(split->first);
      layout.clusters[i] = it->second;
      layout.names[i] = std::move(split->second);
      cluster_labelled[i] = true;
    } else if (layout.names[i].empty() && !v.is_leaf()) {
      std::vector<std::size_t> from_leaves;   // rule 1
      std::vector<std::size_t> from_any;      // rule 2
      for (const std::size_t j : graph.operands[i]) {
        if (layout.clusters[j] == kNoCluster) continue;
        from_any.push_back(layout.clusters[j]);
        if (cluster_labelled[j] && graph.nodes[j].is_leaf()) from_leaves.push_back(layout.clusters[j]);
      }
      const std::size_t by_leaves = agreed_cluster(from_leaves);
      layout.clusters[i] = by_leaves != kNoCluster ? by_leaves : agreed_cluster(from_any);
    }
  }
  return layout;
}

// ---- 5. Rendering -------------------------------------------------------------------------------

/// `prefix` + 'path' + `suffix`, for messages.
std::string message_about(std::string_view prefix, const fs::path& path, std::string_view suffix) {
  return concat({prefix, "'", path.string(), "'", suffix});
}

/// The Graphviz output format that the extension of `path` names: "svg", "png" or "pdf".
std::string format_of(const fs::path& path) {
  std::string extension = path.extension().string();
  std::string format = extension.empty() ? "" : extension.substr(1);
  for (char& c : format) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (format == "svg" || format == "png" || format == "pdf") return format;
  const std::string why = extension.empty()
                              ? std::string(": it has no extension: use .svg, .png or .pdf")
                              : concat({": its extension '", extension, "' is not .svg, .png or .pdf"});
  throw Error(message_about("scalargrad: render: cannot tell the format of ", path, why));
}

/// What Graphviz said, trimmed, as ": <message>" for an Error; "" if it said nothing.
std::string graphviz_says(std::string text) {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back())) != 0) text.pop_back();
  return text.empty() ? text : concat({": ", text});
}

#if SCALARGRAD_HAVE_GVC
// Note [Graphviz library state]: libgvc and cgraph keep process-wide state: the error handler
// set by agseterrf, error levels and counts, plugin caches. render() therefore holds one mutex
// while it uses them, and installs its own handler for that time, so that Graphviz's messages
// end up in the Error (a library prints nothing) instead of on stderr. It also keeps one
// context for the life of the process instead of one per call: Graphviz 2.43's pango plugin
// caches a pointer to the last font name, which gvFreeContext() frees, so the first text laid
// out under a second context reads freed memory (found by AddressSanitizer).
std::mutex gvc_mutex;
std::string* gvc_messages = nullptr;  // where the handler appends, while gvc_mutex is held

/// The process's Graphviz context, made on first use (call with gvc_mutex held); never freed.
GVC_t* gvc_context() {
  static GVC_t* const context = gvContext();
  return context;
}

int collect_gvc_message(char* message) {
  if (gvc_messages != nullptr && message != nullptr) *gvc_messages += message;
  return 0;
}

/// The type of gvRenderData()'s length: unsigned int up to Graphviz 2.x, size_t from 3.0 on.
template <typename Length>
Length render_length_of(int (*)(GVC_t*, Agraph_t*, const char*, char**, Length*));
using RenderLength = decltype(render_length_of(&gvRenderData));

/// Lays out `text` with dot and returns the picture in `format`, through libgvc. Graphviz draws
/// into memory, not into the file: its file output calls exit(1) when a write fails (a full disk,
/// a file-size limit), which would end the caller's program; the caller writes the bytes.
std::string draw_with_gvc(const std::string& text, const std::string& format, const fs::path& target) {
  const std::lock_guard<std::mutex> lock(gvc_mutex);
  std::string messages;
  gvc_messages = &messages;
  struct RestoreHandler {
    agusererrf previous;
    ~RestoreHandler() {
      agseterrf(previous);
      gvc_messages = nullptr;
    }
  } restore{agseterrf(&collect_gvc_message)};

  int status = -1;
  std::string picture;
  if (GVC_t* gvc = gvc_context()) {
    if (Agraph_t* graph = agmemread(text.c_str())) {
      if (gvLayout(gvc, graph, "dot") == 0) {
        char* data = nullptr;
        RenderLength length = 0;
        status = gvRenderData(gvc, graph, format.c_str(), &data, &length);
        if (status == 0 && data != nullptr) picture.assign(data, length);
        gvFreeRenderData(data);
        gvFreeLayout(gvc, graph);
      }
      agclose(graph);
    }
  }
  if (status != 0) {
    throw Error(message_about("scalargrad: render: Graphviz (libgvc) could not draw ", target,
                              graphviz_says(messages)));
  }
  return picture;
}
#endif

#if SCALARGRAD_POSIX
/// Owns a file descriptor.
class Fd {
 public:
  explicit Fd(int fd = -1) noexcept : fd_(fd) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() { reset(); }
  int get() const noexcept { return fd_; }
  void reset() noexcept {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_;
};

/// A connected pair of sockets, both close-on-exec, so that no other program started meanwhile
/// inherits them (a dot started by another thread's render() holding our end open would keep
/// ours from ever seeing end of file). Atomic where SOCK_CLOEXEC exists; elsewhere flagged right
/// after, which spawn_mutex keeps our own render() calls from racing with.
bool make_socket_pair(int (&pair)[2]) {
#if defined(SOCK_CLOEXEC)
  return ::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) == 0;
#else
  if (::socketpair(AF_UNIX, SOCK_STREAM, 0, pair) != 0) return false;
  return ::fcntl(pair[0], F_SETFD, FD_CLOEXEC) == 0 && ::fcntl(pair[1], F_SETFD, FD_CLOEXEC) == 0;
#endif
}

std::mutex spawn_mutex;  // held from making the sockets to starting the program

#if defined(MSG_NOSIGNAL)
constexpr int kSendFlags = MSG_NOSIGNAL;  // EPIPE instead of SIGPIPE if dot exits early
#else
constexpr int kSendFlags = 0;  // SO_NOSIGPIPE is set on the socket instead (macOS)
#endif

/// Runs `argv` (argv[0]: the program's path, started directly: no shell sees the arguments)
/// with `input` on its standard input; returns its wait status and what it wrote to stderr.
std::pair<int, std::string> run_program(std::vector<std::string> argv, std::string_view input,
                                        const fs::path& target) {
  const auto fail = [&](std::string_view what, int error) {
    const std::string why = concat({": cannot ", what, " ", argv[0], ": ", std::system_category().message(error)});
    return Error(message_about("scalargrad: render: cannot draw ", target, why));
  };
  // The child's stdin and stderr are sockets (writing to a dot that has exited then gives
  // EPIPE, not SIGPIPE).
  std::unique_lock<std::mutex> spawning(spawn_mutex);
  int in[2] = {-1, -1};
  const bool made_in = make_socket_pair(in);
  const int in_error = errno;
  Fd child_in(in[0]);
  Fd to_child(in[1]);
  if (!made_in) throw fail("create a socket for", in_error);
  int err[2] = {-1, -1};
  const bool made_err = make_socket_pair(err);
  const int err_error = errno;
  Fd from_child(err[0]);
  Fd child_err(err[1]);
  if (!made_err) throw fail("create a socket for", err_error);
#if !defined(MSG_NOSIGNAL) && defined(SO_NOSIGPIPE)
  const int on = 1;
  ::setsockopt(to_child.get(), SOL_SOCKET, SO_NOSIGPIPE, &on, sizeof on);
#endif

  posix_spawn_file_actions_t actions;
  if (const int rc = ::posix_spawn_file_actions_init(&actions); rc != 0) throw fail("start", rc);
  ::posix_spawn_file_actions_adddup2(&actions, child_in.get(), STDIN_FILENO);
  ::posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
  ::posix_spawn_file_actions_adddup2(&actions, child_err.get(), STDERR_FILENO);
  std::vector<char*> args;
  for (std::string& arg : argv) args.push_back(arg.data());
  args.push_back(nullptr);
  pid_t pid = 0;
  const int spawned = ::posix_spawn(&pid, argv[0].c_str(), &actions, nullptr, args.data(), environ);
  ::posix_spawn_file_actions_destroy(&actions);
  spawning.unlock();
  if (spawned != 0) throw fail("run", spawned);
  child_in.reset();
  child_err.reset();

  // Feed stdin and drain stderr together, so that neither side waits for the other. Nothing
  // throws from here until the child is reaped.
  std::string errors;
  std::size_t written = 0;
  bool writing = true;
  bool reading = true;
  ::fcntl(to_child.get(), F_SETFL, O_NONBLOCK);
  while (writing || reading) {
    if (writing && written == input.size()) {
      to_child.reset();  // end of file for dot
      writing = false;
      continue;
    }
    std::array<pollfd, 2> fds{};
    nfds_t count = 0;
    if (writing) fds[count++] = pollfd{to_child.get(), POLLOUT, 0};
    if (reading) fds[count++] = pollfd{from_child.get(), POLLIN, 0};
    if (::poll(fds.data(), count, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    for (nfds_t k = 0; k < count; ++k) {
      if (fds[k].revents == 0) continue;
      if (fds[k].fd == to_child.get()) {
        const ssize_t n = ::send(to_child.get(), input.data() + written, input.size() - written, kSendFlags);
        if (n > 0) {
          written += static_cast<std::size_t>(n);
        } else if (n < 0 && errno != EINTR && errno != EAGAIN && errno != EWOULDBLOCK) {
          to_child.reset();  // dot stopped reading (it exited): its status says why
          writing = false;
        }
      } else {
        std::array<char, 4096> buf{};
        const ssize_t n = ::read(from_child.get(), buf.data(), buf.size());
        if (n > 0) {
          if (errors.size() < 65536) errors.append(buf.data(), static_cast<std::size_t>(n));
        } else if (n == 0 || (errno != EINTR && errno != EAGAIN)) {
          reading = false;
        }
      }
    }
  }
  to_child.reset();
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) throw fail("wait for", errno);
  }
  return {status, std::move(errors)};
}
#endif

/// The `dot` program on PATH (searched here, as execvp would: an empty entry is the current
/// directory), or nothing.
[[maybe_unused]] std::optional<fs::path> find_dot_program() {
#if SCALARGRAD_POSIX
  const char* env = std::getenv("PATH");
  std::string_view dirs = env != nullptr ? env : "/usr/bin:/bin";
  while (true) {
    const std::size_t colon = dirs.find(':');
    const std::string_view dir = dirs.substr(0, colon);
    const fs::path candidate = fs::path(dir.empty() ? std::string(".") : std::string(dir)) / "dot";
    std::error_code ec;
    if (fs::is_regular_file(candidate, ec) && ::access(candidate.c_str(), X_OK) == 0) {
      return fs::absolute(candidate, ec);
    }
    if (colon == std::string_view::npos) return std::nullopt;
    dirs.remove_prefix(colon + 1);
  }
#else
  return std::nullopt;  // run_program() is POSIX-only: only libgvc draws elsewhere
#endif
}

/// Lays out `text` with the dot program and writes it to `out` in `format`.
[[maybe_unused]] void draw_with_dot_program(const fs::path& program, const std::string& text,
                                            const std::string& format, const fs::path& out,
                                            const fs::path& target) {
#if SCALARGRAD_POSIX
  // -T<format> and -o<file> as single arguments: a file name starting with '-' stays a name.
  const fs::path file = out.is_absolute() ? out : fs::path(".") / out;
  const auto [status, errors] =
      run_program({program.string(), concat({"-T", format}), concat({"-o", file.string()})}, text, target);
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return;
  std::string why = " (";
  if (WIFEXITED(status)) {
    why += "exit status ";
    why += std::to_string(WEXITSTATUS(status));
  } else if (WIFSIGNALED(status)) {
    why += "killed by signal ";
    why += std::to_string(WTERMSIG(status));
  } else {
    why += "wait status ";
    why += std::to_string(status);
  }
  why += ')';
  why += graphviz_says(errors);
  throw Error(message_about(concat({"scalargrad: render: Graphviz's dot (", program.string(), ") could not draw "}),
                            target, why));
#else
  (void)program, (void)text, (void)format, (void)out, (void)target;
#endif
}

[[maybe_unused]] constexpr std::string_view kNoGraphviz =
    "scalargrad: render: Graphviz is not available: install it (Debian: apt-get install graphviz) "
    "or write to_dot() text to a file";

}  // namespace

// ---- to_dot --------------------------------------------------------------------------------------

std::string to_dot(const Value& root, const DotOptions& options) {
  if (options.precision < 0 || options.precision > 17) {
    std::string message = "scalargrad: to_dot: DotOptions::precision = ";
    message += std::to_string(options.precision);
    message += " is not in [0, 17]";
    throw Error(message);
  }
  const Graph graph = graph_of(root);
  const std::size_t n = graph.nodes.size();
  if (n > options.max_nodes) {
    std::string message = "scalargrad: to_dot: the graph has ";
    message += std::to_string(n);
    message += " values, more than DotOptions::max_nodes = ";
    message += std::to_string(options.max_nodes);
    message += "; raise max_nodes to draw it anyway";
    throw Error(message);
  }
  const Layout layout = lay_out(graph, options.cluster_layers);

  // A value's record and, for an op result, its op's ellipse (the edges come after the nodes).
  const auto append_node = [&](std::string& out, std::size_t i, std::string_view indent) {
    const Value& v = graph.nodes[i];
    const std::string id = concat({"n", std::to_string(i)});
    out += indent;
    out += id;
    out += " [label=\"{ ";
    if (!layout.names[i].empty()) {
      append_escaped(out, layout.names[i], true);
      out += " | ";
    }
    out += "data ";
    out += format_number(v.data(), options.precision);
    if (options.show_grad) {
      out += " | grad ";
      out += format_number(v.grad(), options.precision);
    }
    out += " }\"";
    if (options.color_by_grad) {
      const Shade& shade = shade_of(v.grad());
      out += ", style=filled, fillcolor=\"";
      out += shade.fill;
      out += "\", fontcolor=";
      out += shade.font;
    }
    out += "];\n";
    if (graph.operands[i].empty()) return;  // a leaf, or an input of dense(): made by no op
    out += indent;
    out += id;
    out += "_op [shape=ellipse, label=\"";
    append_escaped(out, op_text(v, graph.operands[i]), false);
    out += "\"];\n";
  };

  std::string out =
      "// scalargrad::to_dot: one record per value (label, data, grad), one ellipse per op.\n"
      "digraph scalargrad {\n"
      "  rankdir=LR;\n"
      "  node [shape=record];\n";
  if (options.color_by_grad) append_legend(out);
  // Each cluster's values in a box, in order of first appearance, then the others.
  std::vector<std::vector<std::size_t>> members(layout.titles.size());
  for (std::size_t i = 0; i < n; ++i) {
    if (layout.clusters[i] != kNoCluster) members[layout.clusters[i]].push_back(i);
  }
  for (std::size_t c = 0; c < layout.titles.size(); ++c) {
    out += "  subgraph ";
    // The index makes the id unique (the digits end at the first '_'), even for titles that
    // read alike once escaped ("L\x01" and "L\x02" both show "L "); the title keeps it readable.
    out += dot_id(concat({"cluster_", std::to_string(c), "_", layout.titles[c]}));
    out += " {\n    label=\"";
    append_escaped(out, layout.titles[c], false);
    out += "\";\n";
    for (const std::size_t i : members[c]) append_node(out, i, "    ");
    out += "  }\n";
  }
  for (std::size_t i = 0; i < n; ++i) {
    if (layout.clusters[i] == kNoCluster) append_node(out, i, "  ");
  }
  // Edges: operand -> op -> result, in the order of the results.
  for (std::size_t i = 0; i < n; ++i) {
    if (graph.operands[i].empty()) continue;
    const std::string op = concat({"n", std::to_string(i), "_op"});
    for (const std::size_t j : graph.operands[i]) {
      out += "  n";
      out += std::to_string(j);
      out += " -> ";
      out += op;
      out += ";\n";
    }
    out += "  ";
    out += op;
    out += " -> n";
    out += std::to_string(i);
    out += ";\n";
  }
  out += "}\n";
  return out;
}

// ---- render --------------------------------------------------------------------------------------

void render(const Value& root, const std::filesystem::path& path, const DotOptions& options) {
  const std::string format = format_of(path);
#if SCALARGRAD_HAVE_GVC
  const std::string text = to_dot(root, options);
  // A failed render() leaves the old file as it was: the picture is drawn first, then written.
  FileReplacement file(path, concat({"scalargrad: render: cannot write ", detail::quoted(path)}));
  file.write(draw_with_gvc(text, format, path));
  file.commit();
#else
  const std::optional<fs::path> program = find_dot_program();
  if (!program) throw Error(std::string(kNoGraphviz));
  const std::string text = to_dot(root, options);
  FileReplacement file(path, concat({"scalargrad: render: cannot write ", detail::quoted(path)}));
  draw_with_dot_program(*program, text, format, file.path(), path);
  file.commit();
#endif
}

std::string render_backend() {
#if SCALARGRAD_HAVE_GVC
  return "libgvc";
#else
  return find_dot_program() ? "dot" : "";
#endif
}

}  // namespace scalargrad
