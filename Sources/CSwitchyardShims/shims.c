#define _GNU_SOURCE
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/eventfd.h>
#include <sys/sendfile.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <signal.h>
#include <spawn.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <malloc.h>
#include "shims.h"
#include <errno.h>
#include <unistd.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <sched.h>
#include <crypt.h>

uint32_t sy_epollin(void) { return EPOLLIN; }
uint32_t sy_epollout(void) { return EPOLLOUT; }
uint32_t sy_epollrdhup(void) { return EPOLLRDHUP; }
uint32_t sy_epollhup(void) { return EPOLLHUP; }
uint32_t sy_epollerr(void) { return EPOLLERR; }
uint32_t sy_epollet(void) { return EPOLLET; }

int sy_epoll_ctl(int epfd, int op, int fd, uint32_t events, uint64_t data) {
    struct epoll_event ev;
    memset(&ev, 0, sizeof ev);
    ev.events = events;
    ev.data.u64 = data;
    return epoll_ctl(epfd, op, fd, &ev);
}
int sy_epoll_create(void) { return epoll_create1(EPOLL_CLOEXEC); }
int sy_epoll_ctl_add(void) { return EPOLL_CTL_ADD; }
int sy_epoll_ctl_mod(void) { return EPOLL_CTL_MOD; }
int sy_epoll_ctl_del(void) { return EPOLL_CTL_DEL; }
void *sy_epoll_events_alloc(int count) { return calloc((size_t)count, sizeof(struct epoll_event)); }
void sy_epoll_events_free(void *events) { free(events); }
/* epoll_pwait with no signal mask is epoll_wait (and the one every architecture has), called
 * directly for the reason sy_read is (glibc's wrapper is a cancellation point). */
int sy_epoll_wait(int epfd, void *events, int maxevents, int timeout) {
    return (int)syscall(SYS_epoll_pwait, epfd, (struct epoll_event *)events, maxevents, timeout, NULL, (size_t)8);
}
uint64_t sy_epoll_event_data(const void *events, int index) { return ((const struct epoll_event *)events)[index].data.u64; }
uint32_t sy_epoll_event_events(const void *events, int index) { return ((const struct epoll_event *)events)[index].events; }
int sy_eventfd(void) { return eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC); }
int sy_signalfd_read(int fd) {
    struct signalfd_siginfo info;
    ssize_t n = read(fd, &info, sizeof info);
    return n == (ssize_t)sizeof info ? (int)info.ssi_signo : 0;
}

int sy_set_nonblocking(int fd, int on) {
    int flags = fcntl(fd, F_GETFL);
    if (flags < 0) return -1;
    flags = on ? (flags | O_NONBLOCK) : (flags & ~O_NONBLOCK);
    return fcntl(fd, F_SETFL, flags);
}
int sy_set_cloexec(int fd) { return fcntl(fd, F_SETFD, FD_CLOEXEC); }
int sy_dup_cloexec(int fd) { return fcntl(fd, F_DUPFD_CLOEXEC, 3); }
int sy_set_pipe_size(int fd, int size) { return fcntl(fd, F_SETPIPE_SZ, size); }
int sy_fionread(int fd, int *count) { return ioctl(fd, FIONREAD, count); }
int sy_open(const char *path, int flags, int mode) { return open(path, flags | O_CLOEXEC, mode); }
int sy_open_unnamed_tmpfile(const char *dir) {
    int fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (fd >= 0 || (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL)) return fd;
    size_t n = strlen(dir);
    char *path = malloc(n + sizeof "/switchyard-upload-XXXXXX");
    if (path == NULL) { errno = ENOMEM; return -1; }
    memcpy(path, dir, n);
    memcpy(path + n, "/switchyard-upload-XXXXXX", sizeof "/switchyard-upload-XXXXXX");
    fd = mkostemp(path, O_CLOEXEC);
    if (fd >= 0) unlink(path);
    free(path);
    return fd;
}

ssize_t sy_read(int fd, void *buf, size_t count) { return syscall(SYS_read, fd, buf, count); }
ssize_t sy_write(int fd, const void *buf, size_t count) { return syscall(SYS_write, fd, buf, count); }
ssize_t sy_send(int fd, const void *buf, size_t count, int flags) {
    return syscall(SYS_sendto, fd, buf, count, flags, NULL, 0);
}
ssize_t sy_sendmsg(int fd, const struct msghdr *msg, int flags) { return syscall(SYS_sendmsg, fd, msg, flags); }

ssize_t sy_splice(int fd_in, int fd_out, size_t len, unsigned int flags) {
    return splice(fd_in, NULL, fd_out, NULL, len, flags);
}
unsigned int sy_splice_f_move(void) { return SPLICE_F_MOVE; }
unsigned int sy_splice_f_nonblock(void) { return SPLICE_F_NONBLOCK; }

int sy_pidfd_open(pid_t pid) { return (int)syscall(SYS_pidfd_open, pid, 0); }

int sy_signalfd_for(const int *signals, int count) {
    sigset_t set;
    sigemptyset(&set);
    for (int i = 0; i < count; i++) sigaddset(&set, signals[i]);
    return signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
}
int sy_block_signals(const int *signals, int count) {
    sigset_t set;
    sigemptyset(&set);
    for (int i = 0; i < count; i++) sigaddset(&set, signals[i]);
    return pthread_sigmask(SIG_BLOCK, &set, NULL);
}
int sy_accept4(int fd, struct sockaddr *addr, socklen_t *len) {
    return accept4(fd, addr, len, SOCK_NONBLOCK | SOCK_CLOEXEC);
}
int sy_socket(int domain, int type, int protocol) {
    return socket(domain, type | SOCK_NONBLOCK | SOCK_CLOEXEC, protocol);
}
int sy_pipe2(int fds[2], int size) {
    if (pipe2(fds, O_CLOEXEC | O_NONBLOCK) != 0) return -1;
    if (size > 0) { fcntl(fds[0], F_SETPIPE_SZ, size); }
    return 0;
}

int sy_spawn(pid_t *pid, const char *path, char *const argv[], char *const envp[],
             int fd0, int fd1, int fd2, const char *cwd, int new_process_group) {
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    int rc = posix_spawn_file_actions_init(&fa);
    if (rc) return rc;
    rc = posix_spawnattr_init(&attr);
    if (rc) { posix_spawn_file_actions_destroy(&fa); return rc; }
    /* dup2 onto 0,1,2; the originals are O_CLOEXEC and vanish at exec. When an fd already sits
     * at its target number, adddup2 would be a no-op leaving CLOEXEC set, so go through a spare. */
    int fds[3] = { fd0, fd1, fd2 };
    for (int i = 0; i < 3; i++) {
        if (fds[i] < 0) continue;
        if (fds[i] == i) {
            /* fd already in place (only possible when the gateway itself was started without 0/1/2) */
            posix_spawn_file_actions_adddup2(&fa, fds[i], 100 + i);
            posix_spawn_file_actions_adddup2(&fa, 100 + i, i);
            posix_spawn_file_actions_addclose(&fa, 100 + i);
        } else {
            posix_spawn_file_actions_adddup2(&fa, fds[i], i);
        }
    }
    if (cwd) posix_spawn_file_actions_addchdir_np(&fa, cwd);
    posix_spawn_file_actions_addclosefrom_np(&fa, 3);
    sigset_t empty, defaults;
    sigemptyset(&empty);
    sigemptyset(&defaults);
    sigaddset(&defaults, SIGPIPE);
    sigaddset(&defaults, SIGCHLD);
    sigaddset(&defaults, SIGTERM);
    sigaddset(&defaults, SIGINT);
    sigaddset(&defaults, SIGHUP);
    sigaddset(&defaults, SIGQUIT);
    sigaddset(&defaults, SIGUSR1);
    sigaddset(&defaults, SIGUSR2);
    posix_spawnattr_setsigmask(&attr, &empty);
    posix_spawnattr_setsigdefault(&attr, &defaults);
    short flags = POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF;
    if (new_process_group) { flags |= POSIX_SPAWN_SETPGROUP; posix_spawnattr_setpgroup(&attr, 0); }
    posix_spawnattr_setflags(&attr, flags);
    rc = posix_spawn(pid, path, &fa, &attr, argv, envp);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    return rc;
}

int sy_raise_nofile_limit(void) {
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return -1;
    if (rl.rlim_cur < rl.rlim_max) { rl.rlim_cur = rl.rlim_max; if (setrlimit(RLIMIT_NOFILE, &rl) != 0) return -1; }
    return (int)(rl.rlim_cur > 0x7fffffff ? 0x7fffffff : rl.rlim_cur);
}

int sy_waitpid_status(pid_t pid, int *exited, int *code, int nohang) {
    int status = 0;
    pid_t r;
    do { r = waitpid(pid, &status, nohang ? WNOHANG : 0); } while (r < 0 && errno == EINTR);
    if (r <= 0) return (int)r;
    if (WIFEXITED(status)) { *exited = 1; *code = WEXITSTATUS(status); }
    else if (WIFSIGNALED(status)) { *exited = 0; *code = WTERMSIG(status); }
    return (int)r;
}

int sy_malloc_trim(void) { return malloc_trim(0); }

int sy_pin_to_cpu(int cpu) {
    if (cpu < 0 || cpu >= CPU_SETSIZE) { errno = EINVAL; return -1; }
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    return sched_setaffinity(0, sizeof set, &set);
}

/* Puts the calling thread under SCHED_BATCH (a task that wakes does not preempt the running one);
 * threads and processes it starts later inherit it. For the benchmark's --sched batch. */
int sy_batch_scheduling(void) {
    struct sched_param param = { .sched_priority = 0 };
    return sched_setscheduler(0, SCHED_BATCH, &param);
}

/* CPUs this process may run on (sched_getaffinity: taskset, cgroup cpusets, systemd CPUAffinity),
 * sized for machines with more than CPU_SETSIZE CPUs; 0 when the kernel will not say. */
int sy_usable_cpus(void) {
    for (int n = 1024; n <= 1 << 16; n *= 2) {
        cpu_set_t *set = CPU_ALLOC(n);
        if (!set) return 0;
        size_t size = CPU_ALLOC_SIZE(n);
        CPU_ZERO_S(size, set);
        if (sched_getaffinity(0, size, set) == 0) {
            int count = CPU_COUNT_S(size, set);
            CPU_FREE(set);
            return count;
        }
        CPU_FREE(set);
        if (errno != EINVAL) return 0;
    }
    return 0;
}

/* Checks `password` against a crypt(3) hash (bcrypt, SHA-crypt, MD5-crypt, DES) with crypt_r and a
 * constant-time comparison: 1 match, 0 mismatch, -1 the hash's method is unknown or malformed.
 * The 32 KiB crypt_data lives on the heap: event-loop threads have ordinary stacks. */
int sy_crypt_verify(const char *password, const char *hash) {
    struct crypt_data *data = calloc(1, sizeof *data);
    if (!data) return -1;
    const char *out = crypt_r(password, hash, data);
    int result = -1;
    if (out && out[0] != '*') {
        size_t a = strlen(out), b = strlen(hash);
        unsigned char diff = (unsigned char)(a != b);
        size_t n = a < b ? a : b;
        for (size_t i = 0; i < n; i++) diff |= (unsigned char)(out[i] ^ hash[i]);
        result = diff == 0;
    }
    explicit_bzero(data, sizeof *data);
    free(data);
    return result;
}

/* Names the calling thread (the kernel keeps 15 bytes; a longer name is cut, not refused). */
int sy_set_thread_name(const char *name) {
    char cut[16];
    strncpy(cut, name, sizeof cut - 1);
    cut[sizeof cut - 1] = 0;
    return pthread_setname_np(pthread_self(), cut);
}
