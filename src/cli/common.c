/* SPDX-License-Identifier: MIT */
/* What the commands share: how messages, failures and progress are shown,
 * and how Ctrl-C and SIGTERM ask the library to stop. */
#include "cli.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

/* Ctrl-C (and SIGTERM) ask the library to stop through the progress
 * callback: it then removes its temporary files and leaves every output as
 * it was. */
volatile sig_atomic_t cli_interrupted;

static void on_signal(int sig) { cli_interrupted = sig; }

void cli_catch_signals(void)
{
    struct sigaction sa = {.sa_handler = on_signal};
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

void cli_print_message(int level, const char *message, void *arg)
{
    bool quiet = *(bool *)arg;
    if (level == FC_MSG_WARNING)
        fprintf(stderr, "Warning: %s\n", message);
    else if (level == FC_MSG_INFO && !quiet)
        fprintf(stderr, "%s\n", message);
}

int cli_fail(fc_context *ctx)
{
    fprintf(stderr, "FAILURE: %s\n", fc_errmsg(ctx));
    return EXIT_FAILURE;
}

int cli_usage_error(const char *command, const char *fmt, ...)
{
    const char *space = command ? " " : "", *name = command ? command : "";
    fprintf(stderr, "firmclust%s%s: ", space, name);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nRun 'firmclust%s%s --help' for usage.\n", space, name);
    return EXIT_USAGE;
}

/* GDALTermProgress's "0...10...20... - done." on stderr, where it does not
 * mix with the summary that scripts read from stdout. */
int cli_term_progress(double complete, const char *message, void *arg)
{
    (void)message, (void)arg;
    static int last_tick = -1;
    int tick = complete <= 0 ? 0 : complete >= 1 ? 40 : (int)(complete * 40);
    if (tick < last_tick && last_tick >= 39)
        last_tick = -1; /* a new run */
    while (tick > last_tick) {
        ++last_tick;
        if (last_tick % 4 == 0)
            fprintf(stderr, "%d", last_tick / 4 * 10);
        else
            fputc('.', stderr);
    }
    if (tick == 40 && last_tick == 40) {
        fputs(" - done.\n", stderr);
        last_tick = 41;
    }
    fflush(stderr);
    return !cli_interrupted;
}

int cli_cancel_only(double complete, const char *message, void *arg)
{
    (void)complete, (void)message, (void)arg;
    return !cli_interrupted;
}

bool cli_want_progress(bool quiet, bool forced)
{
    return !quiet && (forced || isatty(STDERR_FILENO));
}
