/* SPDX-License-Identifier: MIT */
/* Work sharing over a range of items: threads take chunks of the range in
 * turn from a shared counter. Each item is done by exactly one thread, so
 * work whose items write disjoint memory gives the same result whatever the
 * thread count. */
#include "core/core.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

typedef struct range_job {
    fc_range_fn fn;
    void *arg;
    size_t n, chunk;
    atomic_size_t next;
    /* fc_parallel_for_cancel(): the calling thread asks ctx's progress
     * callback every POLL_SECONDS; a cancel stops every thread at its next
     * chunk. */
    fc_context *ctx;
    atomic_bool stop;
    atomic_size_t finished; /* items done */
    struct timespec last_poll;
} range_job;

#define POLL_SECONDS 0.05

/* The range job this thread is working on (for fc_parallel_cancelled()),
 * and whether it is the calling thread, which may ask the callback. */
static _Thread_local range_job *current_job;
static _Thread_local bool calling_thread;

/* On the calling thread only: asks whether to go on, at most every
 * POLL_SECONDS. */
static void poll_cancel(range_job *job)
{
    if (!job->ctx || fc_seconds_since(&job->last_poll) < POLL_SECONDS)
        return;
    clock_gettime(CLOCK_MONOTONIC, &job->last_poll);
    if (fc_progress_again(job->ctx) != FC_OK)
        atomic_store(&job->stop, true);
}

typedef struct range_worker {
    range_job *job;
    int index;
} range_worker;

static void *take_chunks(void *arg)
{
    range_worker *w = arg;
    range_job *job = w->job;
    range_job *outer = current_job; /* a range inside a range's item */
    const bool outer_calling = calling_thread;
    current_job = job;
    calling_thread = w->index == 0;
    for (;;) {
        if (job->ctx && atomic_load_explicit(&job->stop, memory_order_relaxed))
            break;
        size_t begin = atomic_fetch_add(&job->next, job->chunk);
        if (begin >= job->n)
            break;
        size_t end = job->n - begin < job->chunk ? job->n : begin + job->chunk;
        job->fn(job->arg, begin, end, w->index);
        if (job->ctx) {
            atomic_fetch_add(&job->finished, end - begin);
            if (w->index == 0)
                poll_cancel(job);
        }
    }
    current_job = outer;
    calling_thread = outer_calling;
    return NULL;
}

int fc_threads_or_cores(int threads)
{
    if (threads > 0)
        return threads > FC_MAX_THREADS ? FC_MAX_THREADS : threads;
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    return cores < 1 ? 1 : cores > FC_MAX_THREADS ? FC_MAX_THREADS : (int)cores;
}

void fc_parallel_for(int threads, size_t n, size_t chunk, fc_range_fn fn, void *arg)
{
    fc_parallel_for_waiting(threads, n, chunk, fn, arg, NULL);
}

bool fc_parallel_cancelled(void)
{
    range_job *job = current_job;
    if (!job || !job->ctx)
        return false;
    if (calling_thread)
        poll_cancel(job);
    return atomic_load_explicit(&job->stop, memory_order_relaxed);
}

static void run_range(range_job *job, int threads, void (*wait)(void *arg))
{
    if (threads > FC_MAX_THREADS)
        threads = FC_MAX_THREADS;
    if ((size_t)threads > (job->n + job->chunk - 1) / job->chunk)
        threads = (int)((job->n + job->chunk - 1) / job->chunk);
    pthread_t tid[FC_MAX_THREADS];
    range_worker workers[FC_MAX_THREADS];
    int started = 0;
    for (int t = 1; t < threads; t++) {
        workers[t] = (range_worker){job, t};
        if (pthread_create(&tid[t], NULL, take_chunks, &workers[t]) != 0)
            break; /* the threads that did start, and this one, do it all */
        started = t;
    }
    workers[0] = (range_worker){job, 0};
    take_chunks(&workers[0]);
    if (wait && started > 0)
        wait(job->arg);
    while (job->ctx && started > 0 && atomic_load(&job->finished) < job->n &&
           !atomic_load(&job->stop)) { /* the others' last chunks: cancel still heard */
        nanosleep(&(struct timespec){0, 10000000L}, NULL);
        poll_cancel(job);
    }
    for (int t = 1; t <= started; t++)
        pthread_join(tid[t], NULL);
}

void fc_parallel_for_waiting(int threads, size_t n, size_t chunk, fc_range_fn fn, void *arg,
                             void (*wait)(void *arg))
{
    range_job job = {.fn = fn, .arg = arg, .n = n, .chunk = chunk < 1 ? 1 : chunk};
    atomic_init(&job.next, 0);
    run_range(&job, threads, wait);
}

int fc_parallel_for_cancel(fc_context *ctx, int threads, size_t n, size_t chunk, fc_range_fn fn,
                           void *arg)
{
    range_job job = {.fn = fn, .arg = arg, .n = n, .chunk = chunk < 1 ? 1 : chunk, .ctx = ctx};
    atomic_init(&job.next, 0);
    atomic_init(&job.stop, false);
    atomic_init(&job.finished, 0);
    clock_gettime(CLOCK_MONOTONIC, &job.last_poll);
    run_range(&job, threads, NULL);
    return atomic_load(&job.stop) ? FC_ECANCEL : FC_OK; /* ctx holds the callback's word */
}
