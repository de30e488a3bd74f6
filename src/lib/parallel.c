/* Work sharing over a range of items: threads take chunks of the range in
 * turn from a shared counter. Each item is done by exactly one thread, so
 * work whose items write disjoint memory gives the same result whatever the
 * thread count. */
#include "fc_internal.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

typedef struct range_job {
    fc_range_fn fn;
    void *arg;
    size_t n, chunk;
    atomic_size_t next;
} range_job;

typedef struct range_worker {
    range_job *job;
    int index;
} range_worker;

static void *take_chunks(void *arg)
{
    range_worker *w = arg;
    range_job *job = w->job;
    for (;;) {
        size_t begin = atomic_fetch_add(&job->next, job->chunk);
        if (begin >= job->n)
            break;
        size_t end = job->n - begin < job->chunk ? job->n : begin + job->chunk;
        job->fn(job->arg, begin, end, w->index);
    }
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

void fc_parallel_for_waiting(int threads, size_t n, size_t chunk, fc_range_fn fn, void *arg,
                             void (*wait)(void *arg))
{
    if (chunk < 1)
        chunk = 1;
    range_job job = {.fn = fn, .arg = arg, .n = n, .chunk = chunk};
    atomic_init(&job.next, 0);
    if (threads > FC_MAX_THREADS)
        threads = FC_MAX_THREADS;
    if ((size_t)threads > (n + chunk - 1) / chunk)
        threads = (int)((n + chunk - 1) / chunk);
    pthread_t tid[FC_MAX_THREADS];
    range_worker workers[FC_MAX_THREADS];
    int started = 0;
    for (int t = 1; t < threads; t++) {
        workers[t] = (range_worker){&job, t};
        if (pthread_create(&tid[t], NULL, take_chunks, &workers[t]) != 0)
            break; /* the threads that did start, and this one, do it all */
        started = t;
    }
    workers[0] = (range_worker){&job, 0};
    take_chunks(&workers[0]);
    if (wait && started > 0)
        wait(arg);
    for (int t = 1; t <= started; t++)
        pthread_join(tid[t], NULL);
}
