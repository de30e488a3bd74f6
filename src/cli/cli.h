/* SPDX-License-Identifier: MIT */
/* firmclust, the command-line tool: what its commands share.
 *
 * main.c dispatches to one cmd_* function per command (cluster.c, info.c,
 * render.c, suggest.c, synth.c); each parses its arguments with the one option parser
 * of args.c, makes its library call and prints the outcome. Exit status: 0
 * success, 1 failure (a FAILURE line on stderr), 2 usage error, 130
 * interrupted. */
#ifndef FIRMCLUST_CLI_H
#define FIRMCLUST_CLI_H

#include "firmclust.h"

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>

#define EXIT_USAGE 2
#define EXIT_INTERRUPTED 130

/* ---- commands ------------------------------------------------------------ */

/* argv[0] is the command's name. */
int cmd_cluster(int argc, char **argv);
int cmd_info(int argc, char **argv);
int cmd_render(int argc, char **argv);
int cmd_synth(int argc, char **argv);
int cmd_suggest(int argc, char **argv);

/* ---- args.c: the option parser ------------------------------------------- */

/* An option of a command: `--name`, `--name VALUE`, `--name=VALUE`, or the
 * short `-c` / `-c VALUE`. `id` is what the command switches on. */
typedef struct cli_option {
    const char *name;
    char short_name; /* 0: none */
    bool takes_value;
    int id;
} cli_option;

/* ids the parser gives, beside the commands' own (which are > 0) */
enum {
    CLI_POSITIONAL = -1, /* not an option: arg.value is the argument */
    CLI_LIBRARY = -2,    /* an option of fc_options_set(): arg.name, arg.value */
    CLI_CONFIG_FILE = -3 /* in a command's table: --config-file FILE, spliced in place */
};

typedef struct cli_arg {
    int id;
    const char *name;  /* the option's long name, without dashes */
    const char *value; /* its value (NULL for a flag), or the positional argument */
    const char *text;  /* the argument as typed, for messages */
    const char *origin; /* "FILE:LINE" of a configuration file's, else NULL */
} cli_arg;

#define CLI_MAX_CONFIGS 64
typedef struct cli_parser {
    const char *command;
    const cli_option *options; /* ends with a NULL name */
    bool library_options;      /* also take fc_cluster()'s options */
    int argc, i;
    char **argv, **argv0;  /* the arguments now, and as main() gave them */
    const char **origin;   /* per argument, "FILE:LINE" or NULL; NULL when no file is spliced */
    char **strings;        /* what --config-file splices allocated */
    int n_strings;
    const char *configs[CLI_MAX_CONFIGS]; /* the configuration files read */
    int n_configs;
    int status;    /* after cli_next() returned false: EXIT_SUCCESS at the end, or a usage error */
    char name[64];
} cli_parser;

void cli_parser_init(cli_parser *p, const char *command, const cli_option *options,
                     bool library_options, int argc, char **argv);
/* The next argument into *arg: true; false at the end (p->status is
 * EXIT_SUCCESS) or on a usage error, already printed (p->status says so). */
bool cli_next(cli_parser *p, cli_arg *arg);
void cli_parser_free(cli_parser *p);

/* ---- common.c: messages, progress, signals --------------------------------- */

/* The signal (SIGINT, SIGTERM) that asked to stop, or 0. */
extern volatile sig_atomic_t cli_interrupted;
void cli_catch_signals(void);

/* fc_message_fn: warnings always, information unless *(bool *)arg (quiet). */
void cli_print_message(int level, const char *message, void *arg);
/* Prints "FAILURE: " and the context's message; returns EXIT_FAILURE. */
int cli_fail(fc_context *ctx);
/* Prints "firmclust COMMAND: " and the printf-style message, and where the
 * help is; returns EXIT_USAGE. */
int cli_usage_error(const char *command, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* fc_progress_fn: GDAL's "0...10...20... - done." on stderr; returns 0
 * (cancel) once a signal came. */
int cli_term_progress(double complete, const char *message, void *arg);
/* fc_progress_fn without a bar: only cancels on a signal. */
int cli_cancel_only(double complete, const char *message, void *arg);
/* Whether to draw a progress bar: not quiet, and stderr a terminal unless forced. */
bool cli_want_progress(bool quiet, bool forced);

/* ---- batch.c: cluster several inputs ------------------------------------- */

/* One library call: its inputs, output and outcome. */
typedef struct cli_job {
    const char *input; /* the first of its inputs */
    const char **inputs;
    size_t n_inputs;
    char *output;
    int status;
    char message[1024];
    fc_result *result;
    double done; /* progress of this job, 0..1 */
} cli_job;

/* Runs the jobs, several at a time when there are several (each then on
 * one thread); progress for all of them together; with fail_fast the
 * first failure cancels the rest. */
void cli_run_jobs(cli_job *jobs, int n_jobs, fc_options *opts, bool show_progress,
                  bool fail_fast, bool quiet);
/* DIR/<input's name without extension>.<format's extension>, or a
 * directory DIR/<name> for single-layer formats; NULL when out of memory. */
char *cli_batch_output(const char *dir, const char *input, const char *format);

#endif /* FIRMCLUST_CLI_H */
