// FileReplacement and replace_file (scalargrad/file.hpp): a file replaced all at once or not
// at all; links followed, devices and FIFOs written in place, permission bits kept, and every
// failure named with its step, its file and the system's reason.
#include "scalargrad/file.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include <fcntl.h>          // open
#include <sys/resource.h>   // setrlimit
#include <sys/stat.h>       // mknod, mkfifo
#include <sys/sysmacros.h>  // makedev
#include <unistd.h>         // getpid, geteuid

#include "scalargrad/error.hpp"
#include "support/test_support.hpp"

namespace {

namespace fs = std::filesystem;
using scalargrad::Error;
using scalargrad::FileReplacement;
using scalargrad::testing_support::ErrorMessage;
using ::testing::HasSubstr;
using ::testing::MatchesRegex;
using ::testing::StartsWith;

/// Child-process bodies of the file-size-limit tests (exit 0 when the error was as expected).
/// Under a file-size limit of 0 every write to a regular file fails (EFBIG); SIGXFSZ ignored.
void LimitFileSizeToZero() {
  std::signal(SIGXFSZ, SIG_IGN);
  const rlimit none{0, 0};
  if (::setrlimit(RLIMIT_FSIZE, &none) != 0) std::_Exit(2);
}

bool NamesTheNewFileAndEFBIG(const std::string& message, const fs::path& target) {
  return message.starts_with("cannot write '" + target.string() + ".tmp-") && message.ends_with("': File too large");
}

[[noreturn]] void WriteUnderZeroLimit(const fs::path& target) {
  LimitFileSizeToZero();
  FileReplacement file(target);
  const std::string first = ErrorMessage([&] {
    file.write(std::string(1 << 16, 'x'));  // more than stdio buffers: reaches the system at once
  });
  const std::string again = ErrorMessage([&] { file.commit(); });
  std::_Exit(NamesTheNewFileAndEFBIG(first, target) && again == first ? 0 : 1);
}

[[noreturn]] void CommitUnderZeroLimit(const fs::path& target) {
  LimitFileSizeToZero();
  FileReplacement file(target);
  file.write("a few bytes, kept in stdio's buffer");
  std::_Exit(NamesTheNewFileAndEFBIG(ErrorMessage([&] { file.commit(); }), target) ? 0 : 1);
}

/// A fresh directory per test, removed after it.
class FileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::temp_directory_path() /
           (std::string("scalargrad-file-test-") + std::to_string(::getpid()) + "-" + info->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override {
    std::error_code ignored;
    fs::permissions(dir_, fs::perms::owner_all, fs::perm_options::add, ignored);
    fs::remove_all(dir_, ignored);
  }

  /// The names in the test's directory, sorted.
  std::vector<std::string> Entries() const {
    std::vector<std::string> names;
    for (const auto& entry : fs::directory_iterator(dir_)) names.push_back(entry.path().filename().string());
    std::sort(names.begin(), names.end());
    return names;
  }

  static std::string Read(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  }

  static void Write(const fs::path& path, const std::string& text) { std::ofstream(path, std::ios::binary) << text; }

  fs::path dir_;
};

TEST_F(FileTest, ReplaceFileCreatesANewFile) {
  scalargrad::replace_file(dir_ / "new.txt", "contents\n");
  EXPECT_EQ(Read(dir_ / "new.txt"), "contents\n");
  EXPECT_EQ(Entries(), std::vector<std::string>{"new.txt"});
}

TEST_F(FileTest, ReplaceFileReplacesAnOldFileWholly) {
  Write(dir_ / "old.txt", std::string(10000, 'o'));
  scalargrad::replace_file(dir_ / "old.txt", "short");  // never "short" + the old file's tail
  EXPECT_EQ(Read(dir_ / "old.txt"), "short");
  scalargrad::replace_file(dir_ / "old.txt", "");
  EXPECT_EQ(Read(dir_ / "old.txt"), "");
  EXPECT_EQ(Entries(), std::vector<std::string>{"old.txt"});
}

TEST_F(FileTest, TheNewFileIsBesideTheTargetUntilCommit) {
  const fs::path target = dir_ / "out.csv";
  Write(target, "old");
  FileReplacement file(target);
  EXPECT_EQ(file.target(), target);
  EXPECT_FALSE(file.in_place());
  EXPECT_EQ(file.path().parent_path(), dir_);
  EXPECT_THAT(file.path().filename().string(), MatchesRegex("out\\.csv\\.tmp-[0-9a-f]{16}"));
  EXPECT_TRUE(fs::is_regular_file(file.path()));
  file.write("new ");
  file.write("contents");
  EXPECT_EQ(Read(target), "old");  // nothing has reached the target yet
  file.commit();
  EXPECT_EQ(Read(target), "new contents");
  EXPECT_EQ(Entries(), std::vector<std::string>{"out.csv"});
}

TEST_F(FileTest, WithoutCommitTheTargetStaysAndTheNewFileGoes) {
  const fs::path target = dir_ / "kept.txt";
  Write(target, "old");
  {
    FileReplacement file(target);
    file.write("never committed");
  }
  EXPECT_EQ(Read(target), "old");
  EXPECT_EQ(Entries(), std::vector<std::string>{"kept.txt"});
  {
    FileReplacement file(dir_ / "absent.txt");  // a target that did not exist stays absent
  }
  EXPECT_EQ(Entries(), std::vector<std::string>{"kept.txt"});
}

TEST_F(FileTest, AnotherWriterMayFillThePathByName) {
  // As render() has Graphviz do: the contents are written to path() by a separate stream.
  const fs::path target = dir_ / "picture.svg";
  FileReplacement file(target);
  std::ofstream(file.path(), std::ios::binary) << "<svg/>";
  file.commit();
  EXPECT_EQ(Read(target), "<svg/>");
  EXPECT_EQ(Entries(), std::vector<std::string>{"picture.svg"});
}

TEST_F(FileTest, CommitTwiceAndWriteAfterCommitAreErrors) {
  const fs::path target = dir_ / "once.txt";
  FileReplacement file(target);
  file.write("1");
  file.commit();
  EXPECT_EQ(ErrorMessage([&] { file.commit(); }),
            "cannot commit '" + target.string() + "' again: it was already committed");
  EXPECT_EQ(ErrorMessage([&] { file.write("2"); }), "cannot write '" + target.string() + "': it was already committed");
  EXPECT_EQ(Read(target), "1");
}

TEST_F(FileTest, AnExistingFileKeepsItsPermissionBits) {
  const fs::path target = dir_ / "private.json";
  for (const fs::perms perms : {fs::perms::owner_read | fs::perms::owner_write,
                                fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read,
                                fs::perms::owner_read}) {  // read-only for its owner: the folder decides
    Write(target, "old");
    fs::permissions(target, perms, fs::perm_options::replace);
    FileReplacement file(target);
    // Before any byte is written, the new file is no more readable than the old one (its owner
    // may write it meanwhile; commit() gives the exact bits).
    EXPECT_EQ(fs::status(file.path()).permissions() & fs::perms::mask, perms | fs::perms::owner_write);
    file.write("new");
    file.commit();
    EXPECT_EQ(fs::status(target).permissions() & fs::perms::mask, perms);
    EXPECT_EQ(Read(target), "new");
    fs::permissions(target, fs::perms::owner_all, fs::perm_options::add);
  }
}

TEST_F(FileTest, AReadOnlyFileCanBeFilledByNameAndStaysReadOnly) {
  // Regression: the new file got the old 0444 before Graphviz opened it by name, so render()
  // over a read-only picture failed for every user but root.
  const fs::path target = dir_ / "picture.svg";
  Write(target, "old");
  fs::permissions(target, fs::perms::owner_read | fs::perms::group_read | fs::perms::others_read,
                  fs::perm_options::replace);
  FileReplacement file(target);
  EXPECT_NE(fs::status(file.path()).permissions() & fs::perms::owner_write, fs::perms::none);
  std::ofstream(file.path(), std::ios::binary) << "<svg/>";
  file.commit();
  EXPECT_EQ(Read(target), "<svg/>");
  EXPECT_EQ(fs::status(target).permissions() & fs::perms::mask,
            fs::perms::owner_read | fs::perms::group_read | fs::perms::others_read);
}

TEST_F(FileTest, SpecialModeBitsAreNotCopied) {
  // A set-user-ID file's new contents never run with its owner's rights (as root, the owner is
  // kept too: see OwnerAndGroupAreKeptWhereAllowed).
  const fs::path target = dir_ / "tool";
  Write(target, "old");
  fs::permissions(target, fs::perms::owner_all | fs::perms::set_uid | fs::perms::set_gid | fs::perms::sticky_bit,
                  fs::perm_options::replace);
  scalargrad::replace_file(target, "new");
  EXPECT_EQ(fs::status(target).permissions() & fs::perms::mask, fs::perms::owner_all);
}

TEST_F(FileTest, OwnerAndGroupAreKeptWhereAllowed) {
  if (::geteuid() != 0) GTEST_SKIP() << "only root may give a file to another user";
  const fs::path target = dir_ / "theirs.txt";
  Write(target, "old");
  ASSERT_EQ(::chown(target.c_str(), 65534, 65534), 0);
  scalargrad::replace_file(target, "new");
  struct ::stat info {};
  ASSERT_EQ(::stat(target.c_str(), &info), 0);
  EXPECT_EQ(info.st_uid, 65534u);
  EXPECT_EQ(info.st_gid, 65534u);
}

TEST_F(FileTest, AnEmptyViewWritesNothing) {
  // Regression: an empty std::string_view holds a null pointer, which went to fwrite (UBSan).
  FileReplacement file(dir_ / "empty.txt");
  file.write(std::string_view{});
  file.write("");
  file.commit();
  EXPECT_TRUE(fs::is_regular_file(dir_ / "empty.txt"));
  EXPECT_EQ(fs::file_size(dir_ / "empty.txt"), 0u);
}

TEST_F(FileTest, ALinkToAnOpenDescriptorWritesThroughIt) {
  // Regression: /dev/stdout links to /proc/self/fd/1, which links to "pipe:[1234]" when stdout
  // is a pipe: that was taken for a file name ("cannot create '/proc/self/fd/pipe:[1234].tmp-'").
  // Here a pipe's writing end stands for stdout, reached as /dev/stdout is: through a link.
  int ends[2];
  ASSERT_EQ(::pipe(ends), 0);
  const std::string fd_path = "/proc/self/fd/" + std::to_string(ends[1]);
  fs::create_symlink(fd_path, dir_ / "stdout");
  {
    FileReplacement file(dir_ / "stdout");
    EXPECT_TRUE(file.in_place());
    file.write("through the descriptor");
    file.commit();
  }
  ::close(ends[1]);
  std::string received(64, '\0');
  const ssize_t size = ::read(ends[0], received.data(), received.size());
  ::close(ends[0]);
  received.resize(size > 0 ? static_cast<std::size_t>(size) : 0);
  EXPECT_EQ(received, "through the descriptor");
  EXPECT_TRUE(fs::is_symlink(fs::symlink_status(dir_ / "stdout")));
  EXPECT_EQ(Entries(), std::vector<std::string>{"stdout"});
}

TEST_F(FileTest, ADescriptorOpenForAppendingIsAppendedTo) {
  // `program --out /dev/stdout >> log` appends to the log, as the shell opened it, rather than
  // replacing it (a rename) or writing over its start (a fresh open at offset 0).
  const fs::path log = dir_ / "log.txt";
  Write(log, "earlier lines\n");
  const int fd = ::open(log.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  for (const std::string& path : {"/proc/self/fd/" + std::to_string(fd), "/dev/fd/" + std::to_string(fd)}) {
    FileReplacement file(path);
    EXPECT_TRUE(file.in_place()) << path;
    EXPECT_EQ(file.path(), fs::path(path));
    file.write("appended\n");
    file.commit();
  }
  ::close(fd);
  EXPECT_EQ(Read(log), "earlier lines\nappended\nappended\n");
  EXPECT_EQ(Entries(), std::vector<std::string>{"log.txt"});
}

TEST_F(FileTest, ANewFileGetsTheUsualPermissions) {
  const mode_t mask = ::umask(022);
  scalargrad::replace_file(dir_ / "new.txt", "x");
  ::umask(mask);
  EXPECT_EQ(fs::status(dir_ / "new.txt").permissions() & fs::perms::mask,
            fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read | fs::perms::others_read);
}

TEST_F(FileTest, AChainOfLinksIsFollowedAndStays) {
  fs::create_directories(dir_ / "real");
  Write(dir_ / "real" / "data.csv", "old");
  fs::create_symlink("real/data.csv", dir_ / "second");  // relative to its own folder
  fs::create_symlink(dir_ / "second", dir_ / "first");   // absolute
  FileReplacement file(dir_ / "first");
  EXPECT_EQ(file.path().parent_path(), dir_ / "real");  // beside the file really replaced
  file.write("new");
  file.commit();
  EXPECT_EQ(Read(dir_ / "real" / "data.csv"), "new");
  EXPECT_TRUE(fs::is_symlink(fs::symlink_status(dir_ / "first")));
  EXPECT_TRUE(fs::is_symlink(fs::symlink_status(dir_ / "second")));
  EXPECT_EQ(fs::read_symlink(dir_ / "second"), "real/data.csv");
}

TEST_F(FileTest, ADanglingLinkGetsItsFileCreated) {
  fs::create_symlink("made.txt", dir_ / "link");
  scalargrad::replace_file(dir_ / "link", "made");
  EXPECT_TRUE(fs::is_symlink(fs::symlink_status(dir_ / "link")));
  EXPECT_EQ(Read(dir_ / "made.txt"), "made");
}

TEST_F(FileTest, ALoopOfLinksIsAnErrorAndBothLinksStay) {
  fs::create_symlink("b", dir_ / "a");
  fs::create_symlink("a", dir_ / "b");
  EXPECT_EQ(ErrorMessage([&] { FileReplacement file(dir_ / "a"); }),
            "cannot follow the links of '" + (dir_ / "a").string() + "': Too many levels of symbolic links");
  EXPECT_TRUE(fs::is_symlink(fs::symlink_status(dir_ / "a")));
  EXPECT_TRUE(fs::is_symlink(fs::symlink_status(dir_ / "b")));
  EXPECT_EQ(Entries(), (std::vector<std::string>{"a", "b"}));
}

TEST_F(FileTest, AFolderIsRefusedBeforeAnythingIsWritten) {
  fs::create_directories(dir_ / "folder" / "inside");
  EXPECT_EQ(ErrorMessage([&] { scalargrad::replace_file(dir_ / "folder", "x"); }),
            "cannot replace '" + (dir_ / "folder").string() + "': Is a directory");
  EXPECT_EQ(Entries(), std::vector<std::string>{"folder"});
  EXPECT_TRUE(fs::is_directory(dir_ / "folder" / "inside"));
}

// Regression: "" went as far as creating ".tmp-..." in the current folder, then failed to rename
// it to "" ("cannot rename '.tmp-...' to '': No such file or directory").
TEST_F(FileTest, AnEmptyTargetIsRefusedBeforeAnythingIsMade) {
  const fs::path before = fs::current_path();
  fs::current_path(dir_);
  const std::string message = ErrorMessage([] { scalargrad::replace_file("", "x"); });
  const std::string with_context = ErrorMessage([] { scalargrad::FileReplacement file("", "saving"); });
  const std::vector<std::string> entries = Entries();
  fs::current_path(before);
  EXPECT_EQ(message, "cannot write a file with an empty name");
  EXPECT_EQ(with_context, "saving: cannot write a file with an empty name");
  EXPECT_EQ(entries, std::vector<std::string>{});
}

// Regression: a name of 255 bytes, which the file system takes, was refused: its new file's name
// (21 bytes longer) was not ("cannot create '<name>.tmp-...': File name too long").
TEST_F(FileTest, ANameOfTheLongestLengthIsReplaced) {
  for (const std::size_t length : {234u, 235u, 255u}) {
    const std::string name(length, 'n');
    const fs::path target = dir_ / name;
    Write(target, "old");
    scalargrad::FileReplacement file(target);
    EXPECT_EQ(file.path().parent_path(), dir_);
    EXPECT_LE(file.path().filename().string().size(), 255u);
    EXPECT_TRUE(file.path().filename().string().starts_with(std::string(std::min<std::size_t>(length, 234), 'n') + ".tmp-"))
        << file.path();
    file.write("new");
    file.commit();
    EXPECT_EQ(Read(target), "new") << length;
    EXPECT_EQ(Entries(), std::vector<std::string>{name});
    fs::remove(target);
  }
  // A cut never splits a UTF-8 character: "a" and 127 two-byte "é" (255 bytes) keeps "a" and 116 of them.
  std::string accented = "a";
  for (int i = 0; i < 127; ++i) accented += "\xC3\xA9";
  const fs::path target = dir_ / accented;
  Write(target, "old");
  scalargrad::FileReplacement file(target);
  const std::string name = file.path().filename().string();
  std::string expected = "a";
  for (int i = 0; i < 116; ++i) expected += "\xC3\xA9";
  EXPECT_TRUE(name.starts_with(expected + ".tmp-")) << name;
  file.write("new");
  file.commit();
  EXPECT_EQ(Read(target), "new");
}

TEST_F(FileTest, AMissingFolderIsAnErrorNamingTheNewFile) {
  const fs::path target = dir_ / "no such folder" / "out.txt";
  const std::string message = ErrorMessage([&] { scalargrad::replace_file(target, "x"); });
  EXPECT_THAT(message, MatchesRegex("cannot create '" + std::regex_replace(target.string(), std::regex("[.]"), "\\.") +
                                    "\\.tmp-[0-9a-f]{16}': No such file or directory"));
  EXPECT_EQ(Entries(), std::vector<std::string>{});
}

TEST_F(FileTest, APathThroughAFileIsAnErrorNamingIt) {
  Write(dir_ / "plain", "x");
  const fs::path target = dir_ / "plain" / "out.txt";
  EXPECT_EQ(ErrorMessage([&] { scalargrad::replace_file(target, "x"); }),
            "cannot look at '" + target.string() + "': Not a directory");
}

TEST_F(FileTest, AFolderWithoutWritePermissionIsAnError) {
  if (::geteuid() == 0) GTEST_SKIP() << "root writes into any folder";
  Write(dir_ / "old.txt", "old");
  fs::permissions(dir_, fs::perms::owner_read | fs::perms::owner_exec, fs::perm_options::replace);
  EXPECT_THAT(ErrorMessage([&] { scalargrad::replace_file(dir_ / "old.txt", "new"); }),
              AllOf(HasSubstr("cannot create '" + (dir_ / "old.txt").string() + ".tmp-"),
                    HasSubstr("': Permission denied")));
  fs::permissions(dir_, fs::perms::owner_all, fs::perm_options::replace);
  EXPECT_EQ(Read(dir_ / "old.txt"), "old");
}

TEST_F(FileTest, AFailedRenameRemovesTheNewFileAndKeepsWhatIsThere) {
  // A folder appears at the target between the constructor and commit(): the rename fails.
  const fs::path target = dir_ / "model.json";
  FileReplacement file(target);
  const fs::path temporary = file.path();
  file.write("model");
  fs::create_directories(target / "inside");
  const std::string message = ErrorMessage([&] { file.commit(); });
  EXPECT_THAT(message, HasSubstr("cannot rename '" + temporary.string() + "' to '" + target.string() + "': "));
  EXPECT_THAT(message, AnyOf(HasSubstr("Is a directory"), HasSubstr("Directory not empty")));
  EXPECT_EQ(Entries(), std::vector<std::string>{"model.json"});
  EXPECT_TRUE(fs::is_directory(target / "inside"));
  // The failure is kept: later calls throw it again rather than commit anything.
  EXPECT_EQ(ErrorMessage([&] { file.commit(); }), message);
  EXPECT_EQ(ErrorMessage([&] { file.write("more"); }), message);
}

TEST_F(FileTest, AFailedWriteKeepsTheOldFileAndThrowsAgainOnCommit) {
  // In a child process: the limit must not reach the other tests.
  const fs::path target = dir_ / "data.csv";
  Write(target, "the old contents");
  EXPECT_EXIT(WriteUnderZeroLimit(target), ::testing::ExitedWithCode(0), "");
  EXPECT_EQ(Read(target), "the old contents");
  EXPECT_EQ(Entries(), std::vector<std::string>{"data.csv"});
}

TEST_F(FileTest, AFailedFlushAtCommitKeepsTheOldFile) {
  // A short write stays in stdio's buffer until commit() flushes it: the error comes from there.
  const fs::path target = dir_ / "data.csv";
  Write(target, "the old contents");
  EXPECT_EXIT(CommitUnderZeroLimit(target), ::testing::ExitedWithCode(0), "");
  EXPECT_EQ(Read(target), "the old contents");
  EXPECT_EQ(Entries(), std::vector<std::string>{"data.csv"});
}

TEST_F(FileTest, AFifoIsWrittenInPlace) {
  const fs::path fifo = dir_ / "pipe";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  // The reading end, opened first without waiting: the writer's open then returns at once, and
  // a FIFO wrongly replaced by a file leaves this end with nothing to read rather than a hang.
  const int reader = ::open(fifo.c_str(), O_RDONLY | O_NONBLOCK);
  ASSERT_GE(reader, 0);
  {
    FileReplacement file(fifo);
    EXPECT_TRUE(file.in_place());
    EXPECT_EQ(file.path(), fifo);
    file.write("through the pipe");
    file.commit();
  }
  std::string received(64, '\0');
  const ssize_t size = ::read(reader, received.data(), received.size());
  ::close(reader);
  received.resize(size > 0 ? static_cast<std::size_t>(size) : 0);
  EXPECT_EQ(received, "through the pipe");
  EXPECT_TRUE(fs::is_fifo(fs::symlink_status(fifo)));
  EXPECT_EQ(Entries(), std::vector<std::string>{"pipe"});
}

TEST_F(FileTest, AContextGoesInFrontOfEveryMessage) {
  // From the constructor, from replace_file(), and from a failure that later calls throw again.
  fs::create_directories(dir_ / "folder");
  EXPECT_EQ(ErrorMessage([&] { FileReplacement file(dir_ / "folder", "saving the model"); }),
            "saving the model: cannot replace '" + (dir_ / "folder").string() + "': Is a directory");
  EXPECT_EQ(ErrorMessage([&] { scalargrad::replace_file(dir_ / "folder", "x", "scalargrad::nn: cannot save"); }),
            "scalargrad::nn: cannot save: cannot replace '" + (dir_ / "folder").string() + "': Is a directory");
  const fs::path target = dir_ / "model.json";
  FileReplacement file(target, "ctx");
  file.write("model");
  fs::create_directories(target / "inside");  // the rename at commit() fails
  const std::string message = ErrorMessage([&] { file.commit(); });
  EXPECT_THAT(message, StartsWith("ctx: cannot rename '"));
  EXPECT_EQ(ErrorMessage([&] { file.commit(); }), message);
  EXPECT_EQ(ErrorMessage([&] { file.write("more"); }), message);
  FileReplacement done(dir_ / "done.txt", "ctx");
  done.commit();
  EXPECT_EQ(ErrorMessage([&] { done.write("x"); }),
            "ctx: cannot write '" + (dir_ / "done.txt").string() + "': it was already committed");
  EXPECT_EQ(Read(dir_ / "done.txt"), "");
}

TEST_F(FileTest, ADeviceIsWrittenInPlaceAndStaysADevice) {
  // Devices made here (only root may), never the real ones of /dev: a bug that renamed over a
  // device would otherwise replace /dev/null for the whole machine.
  const fs::path null = dir_ / "null";
  if (::mknod(null.c_str(), S_IFCHR | 0666, ::makedev(1, 3)) != 0) {
    GTEST_SKIP() << "cannot make a device node here (not root?)";
  }
  {
    FileReplacement file(null);
    EXPECT_TRUE(file.in_place());
    file.write("discarded");
    file.commit();
  }
  EXPECT_TRUE(fs::is_character_file(fs::symlink_status(null)));
  // A device that refuses every byte (c 1 7, a twin of /dev/full): the flush at commit() fails.
  const fs::path full = dir_ / "full";
  ASSERT_EQ(::mknod(full.c_str(), S_IFCHR | 0666, ::makedev(1, 7)), 0);
  FileReplacement file(full);
  file.write("refused");
  EXPECT_EQ(ErrorMessage([&] { file.commit(); }), "cannot write '" + full.string() + "': No space left on device");
  EXPECT_TRUE(fs::is_character_file(fs::symlink_status(full)));
  EXPECT_EQ(Entries(), (std::vector<std::string>{"full", "null"}));
}

TEST_F(FileTest, WritersOfOneTargetNeverMixTheirContents) {
  // Each thread replaces the same file many times; a reader only ever sees one whole version.
  const fs::path target = dir_ / "shared.txt";
  scalargrad::replace_file(target, std::string(4096, 'a'));
  std::vector<std::thread> writers;
  for (const char c : {'b', 'c'}) {
    writers.emplace_back([&target, c] {
      for (int i = 0; i < 200; ++i) scalargrad::replace_file(target, std::string(4096, c));
    });
  }
  int torn = 0;
  for (int i = 0; i < 200; ++i) {
    const std::string seen = Read(target);
    if (seen.size() != 4096 || seen.find_first_not_of(seen.front()) != std::string::npos) ++torn;
  }
  for (std::thread& writer : writers) writer.join();
  EXPECT_EQ(torn, 0);
  EXPECT_EQ(Entries(), std::vector<std::string>{"shared.txt"});
}

}  // namespace
