#include "spliced/metrics/process_stats.hpp"

#include <ctime>
#include <dirent.h>
#include <fstream>
#include <limits>
#include <sstream>
#include <string>
#include <sys/resource.h>
#include <unistd.h>

namespace spliced::metrics {

namespace {

// The fields of a /proc/.../stat line after the command name (which may hold spaces and ')'):
// fields[0] is the state, field N of proc(5) is fields[N - 3].
std::optional<std::vector<std::string>> stat_fields(const std::string& path) {
    std::ifstream in(path);
    std::string line;
    if (!std::getline(in, line))
        return std::nullopt;
    auto close = line.rfind(')');
    if (close == std::string::npos)
        return std::nullopt;
    std::istringstream rest(line.substr(close + 1));
    std::vector<std::string> fields;
    for (std::string f; rest >> f;)
        fields.push_back(std::move(f));
    if (fields.size() < 22)
        return std::nullopt;
    return fields;
}

double field(const std::vector<std::string>& fields, int proc5_number) {
    return std::stod(fields[std::size_t(proc5_number - 3)]);
}

double cpu_of(const std::vector<std::string>& fields, double ticks) {
    return (field(fields, 14) + field(fields, 15)) / ticks; // utime + stime
}

// When the machine booted, in seconds since the epoch (/proc/PID/stat's starttime counts from
// boot): /proc/stat's btime, as Prometheus' client libraries read it, or where that is hidden
// (systemd's ProcSubset=pid) the clocks, which agree with it within a second.
double boot_time_seconds() {
    std::ifstream in("/proc/stat");
    for (std::string key; in >> key;) {
        if (key == "btime") {
            double value = 0;
            if (in >> value)
                return value;
            break;
        }
        in.ignore(std::numeric_limits<std::streamsize>::max(), '\n');
    }
    timespec real{}, boot{};
    ::clock_gettime(CLOCK_REALTIME, &real);
    ::clock_gettime(CLOCK_BOOTTIME, &boot);
    return double(real.tv_sec - boot.tv_sec) + double(real.tv_nsec - boot.tv_nsec) / 1e9;
}

double count_open_fds() {
    DIR* dir = ::opendir("/proc/self/fd");
    if (!dir)
        return 0;
    double count = 0;
    while (auto* entry = ::readdir(dir))
        count += entry->d_name[0] != '.';
    ::closedir(dir);
    return count - 1; // the directory's own descriptor
}

} // namespace

std::optional<process_stats> read_process_stats(std::span<const pid_t> worker_tids) {
    try {
        auto self = stat_fields("/proc/self/stat");
        if (!self)
            return std::nullopt;
        const double ticks = double(::sysconf(_SC_CLK_TCK));
        process_stats s;
        s.cpu_seconds = cpu_of(*self, ticks);
        s.virtual_bytes = field(*self, 23);
        s.resident_bytes = field(*self, 24) * double(::sysconf(_SC_PAGESIZE));
        s.start_time_seconds = boot_time_seconds() + field(*self, 22) / ticks;
        s.open_fds = count_open_fds();
        if (rlimit lim{}; ::getrlimit(RLIMIT_NOFILE, &lim) == 0)
            s.max_fds = double(lim.rlim_cur);
        for (pid_t tid : worker_tids) {
            auto t = stat_fields("/proc/self/task/" + std::to_string(tid) + "/stat");
            s.worker_cpu_seconds.push_back(t ? std::optional(cpu_of(*t, ticks)) : std::nullopt);
        }
        return s;
    } catch (const std::exception&) {
        return std::nullopt; // a /proc line not as proc(5) says
    }
}

} // namespace spliced::metrics
