/* C shim for the Linux APIs Glibc's Swift overlay does not expose (epoll, signalfd, eventfd,
 * pidfd, splice, GNU posix_spawn extensions) and for variadic calls Swift cannot make (fcntl, ioctl, open). */
#ifndef SWITCHYARD_SHIMS_H
#define SWITCHYARD_SHIMS_H
/* Only plain types here: system headers are included with _GNU_SOURCE in shims.c alone, because
 * including them here with different feature macros than Swift's Glibc module breaks the module. */
#include <stdint.h>
#include <sys/types.h>
#include <sys/socket.h>

uint32_t sy_epollin(void);
uint32_t sy_epollout(void);
uint32_t sy_epollrdhup(void);
uint32_t sy_epollhup(void);
uint32_t sy_epollerr(void);
uint32_t sy_epollet(void);

int sy_epoll_ctl(int epfd, int op, int fd, uint32_t events, uint64_t data);
int sy_epoll_create(void);
int sy_epoll_ctl_add(void);
int sy_epoll_ctl_mod(void);
int sy_epoll_ctl_del(void);
/* The event array is opaque to Swift: allocate with sy_epoll_events_alloc. */
void *sy_epoll_events_alloc(int count);
void sy_epoll_events_free(void *events);
int sy_epoll_wait(int epfd, void *events, int maxevents, int timeout);
uint64_t sy_epoll_event_data(const void *events, int index);
uint32_t sy_epoll_event_events(const void *events, int index);
int sy_eventfd(void);
/* Reads one signal from a signalfd; returns its number, 0 when none is pending. */
int sy_signalfd_read(int fd);

int sy_set_nonblocking(int fd, int on);
int sy_set_cloexec(int fd);
int sy_dup_cloexec(int fd);
int sy_set_pipe_size(int fd, int size);
int sy_fionread(int fd, int *count);
int sy_open(const char *path, int flags, int mode);
/* A read-write temporary file in `dir` that has no name (O_TMPFILE; where the file system lacks
 * it, mkostemp then unlink at once): it vanishes with its last descriptor. -1 and errno on failure. */
int sy_open_unnamed_tmpfile(const char *dir);

/* read(2), write(2), send(2) and sendmsg(2) as plain system calls. glibc's wrappers are
 * cancellation points: in a process with threads each call brackets the system call with
 * __pthread_enable/disable_asynccancel (~70 instructions a relayed message). Switchyard never
 * cancels a thread, so its I/O skips them. -1 and errno on failure, like the wrappers. */
ssize_t sy_read(int fd, void *buf, size_t count);
ssize_t sy_write(int fd, const void *buf, size_t count);
ssize_t sy_send(int fd, const void *buf, size_t count, int flags);
ssize_t sy_sendmsg(int fd, const struct msghdr *msg, int flags);

ssize_t sy_splice(int fd_in, int fd_out, size_t len, unsigned int flags);
unsigned int sy_splice_f_move(void);
unsigned int sy_splice_f_nonblock(void);

int sy_pidfd_open(pid_t pid);
int sy_signalfd_for(const int *signals, int count);
int sy_block_signals(const int *signals, int count);
int sy_accept4(int fd, struct sockaddr *addr, socklen_t *len);
int sy_socket(int domain, int type, int protocol);
int sy_pipe2(int fds[2], int size);

/* Spawns `path` with argv/envp, stdin/stdout/stderr from the given fds (-1 = inherit /dev/null
 * semantics are the caller's business), working directory `cwd` (may be NULL), every other fd closed,
 * an empty signal mask and default dispositions for the usual signals. Returns 0 and *pid, or errno. */
int sy_spawn(pid_t *pid, const char *path, char *const argv[], char *const envp[],
             int fd0, int fd1, int fd2, const char *cwd, int new_process_group);

int sy_raise_nofile_limit(void);
/* CPUs this process may run on (its affinity mask); 0 when unknown. */
int sy_usable_cpus(void);
/* Restricts this process (and the children it starts afterwards) to one CPU; 0 or -1 (errno). */
int sy_pin_to_cpu(int cpu);
/* SCHED_BATCH for the calling thread and what it starts afterwards (the benchmark's --sched batch); 0 or -1 (errno). */
int sy_batch_scheduling(void);
/* Names the calling thread (its first 15 bytes); 0 or the error. */
int sy_set_thread_name(const char *name);
/* crypt_r(3) check of a password against a stored hash: 1 match, 0 mismatch, -1 unknown method. */
int sy_crypt_verify(const char *password, const char *hash);
int sy_waitpid_status(pid_t pid, int *exited, int *code, int nohang);

/* glibc's malloc_trim(0): gives freed heap memory of every arena back to the kernel. */
int sy_malloc_trim(void);
/* io_uring as a readiness source (uring.c): an opaque ring, one-shot poll entries queued in user
 * memory and submitted together with the wait. Functions return 0/counts, or -errno. */
void *sy_uring_open(unsigned entries, unsigned cq_entries);   /* NULL and errno on failure */
void sy_uring_close(void *ring);
/* Called by the thread that runs the loop before its first wait: it becomes the ring's submitter. */
int sy_uring_enable(void *ring);
int sy_uring_poll_add(void *ring, int fd, uint32_t events, uint64_t user_data);
int sy_uring_poll_remove(void *ring, uint64_t target_user_data);
/* Submits what is queued and waits for one completion up to timeout_ms (-1 forever, 0 no wait). */
int sy_uring_submit_wait(void *ring, int timeout_ms);
/* Copies up to `max` completions out of the ring and consumes them; returns how many. */
int sy_uring_reap(void *ring, uint64_t *user_data, int32_t *res, int max);
#endif
