/* `firmclust render OUTPUT PNG`: a map picture of an output, drawn by
 * QGIS's own renderer through PyQGIS. The script (render.py) is built into
 * the tool, so there is nothing to install beside it. */
#define _GNU_SOURCE /* struct stat64 behind VSIStatBufL */
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cpl_conv.h>
#include <cpl_vsi.h>

#include "render_py.h"

static const char *const usage =
    "Usage: firmclust render OUTPUT PNG [--regions FILE] [--title TEXT] [--overwrite]\n"
    "\n"
    "Draws a firmclust OUTPUT (a GeoPackage or an output directory) as a map picture\n"
    "with QGIS's own renderer, in the styles the output carries: cluster polygons by\n"
    "sector with labels, firms by cluster, and the --regions polygons underneath,\n"
    "with a legend. Needs QGIS's Python bindings (Debian: python3-qgis); the Python\n"
    "used is $FIRMCLUST_PYTHON, else /usr/bin/python3.\n";

enum { OPT_HELP = 1, OPT_REGIONS, OPT_TITLE, OPT_OVERWRITE };
static const cli_option render_options[] = {
    {"help", 'h', false, OPT_HELP},
    {"regions", 0, true, OPT_REGIONS},
    {"title", 0, true, OPT_TITLE},
    {"overwrite", 0, false, OPT_OVERWRITE},
    {NULL, 0, false, 0},
};

typedef struct render_args {
    const char *output, *png, *regions, *title;
    bool overwrite;
} render_args;

/* Runs the script with QGIS's Python: its messages into `log`. Returns
 * whether it succeeded; *not_found when Python could not be started. */
static bool run_script(const render_args *r, const char *python, const char *script,
                       const char *tmp_png, int log_fd, bool *not_found)
{
    pid_t pid = fork();
    if (pid == 0) {
        dup2(log_fd, STDOUT_FILENO);
        dup2(log_fd, STDERR_FILENO);
        setenv("QT_QPA_PLATFORM", "offscreen", 0);
        execl(python, python, script, r->output, tmp_png, r->regions, r->title, (char *)NULL);
        _exit(127);
    }
    int status = -1;
    if (pid > 0)
        waitpid(pid, &status, 0);
    *not_found = WIFEXITED(status) && WEXITSTATUS(status) == 127;
    return pid > 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

static void say_why(const char *output, const char *python, const char *log, bool not_found)
{
    char text[4096] = "";
    FILE *f = fopen(log, "r");
    size_t n = f ? fread(text, 1, sizeof text - 1, f) : 0;
    text[n] = '\0';
    if (f)
        fclose(f);
    if (strstr(text, "No module named 'qgis'") || not_found)
        fprintf(stderr, "FAILURE: render needs QGIS's Python bindings (Debian: apt-get install "
                        "python3-qgis), for %s\n", python);
    else
        fprintf(stderr, "FAILURE: %s: QGIS could not draw it:\n%s", output, text);
}

/* The script and its messages in temporary files; the picture under a
 * temporary name beside PNG, renamed into place when complete. */
static int render(const render_args *r)
{
    char script[] = "/tmp/firmclust-render-XXXXXX", log[] = "/tmp/firmclust-render-log-XXXXXX";
    int fd = mkstemp(script), log_fd = mkstemp(log);
    bool written = fd >= 0 && log_fd >= 0 &&
                   write(fd, render_py, sizeof render_py - 1) == (ssize_t)(sizeof render_py - 1);
    if (fd >= 0)
        close(fd);
    if (!written) {
        if (log_fd >= 0)
            close(log_fd), unlink(log);
        if (fd >= 0)
            unlink(script);
        fprintf(stderr, "FAILURE: cannot write a temporary file in /tmp\n");
        return EXIT_FAILURE;
    }
    char tmp_png[4200];
    snprintf(tmp_png, sizeof tmp_png, "%s%s.%s.%ld.tmp.png", CPLGetPath(r->png),
             *CPLGetPath(r->png) ? "/" : "", CPLGetFilename(r->png), (long)getpid());
    const char *python = getenv("FIRMCLUST_PYTHON") ? getenv("FIRMCLUST_PYTHON") : "/usr/bin/python3";
    bool not_found;
    bool ok = run_script(r, python, script, tmp_png, log_fd, &not_found);
    close(log_fd);
    unlink(script);
    int rc = EXIT_SUCCESS;
    if (!ok) {
        say_why(r->output, python, log, not_found);
        unlink(tmp_png);
        rc = EXIT_FAILURE;
    } else if (rename(tmp_png, r->png) != 0) {
        fprintf(stderr, "FAILURE: %s: cannot move into place\n", r->png);
        unlink(tmp_png);
        rc = EXIT_FAILURE;
    }
    unlink(log);
    return rc;
}

int cmd_render(int argc, char **argv)
{
    render_args r = {.regions = "", .title = ""};
    cli_parser p;
    cli_arg a;
    cli_parser_init(&p, "render", render_options, false, argc, argv);
    while (cli_next(&p, &a)) {
        switch (a.id) {
        case OPT_HELP: printf("%s", usage); return EXIT_SUCCESS;
        case OPT_REGIONS: r.regions = a.value; break;
        case OPT_TITLE: r.title = a.value; break;
        case OPT_OVERWRITE: r.overwrite = true; break;
        default:
            if (r.png)
                return cli_usage_error("render", "too many arguments: %s", a.text);
            *(r.output ? &r.png : &r.output) = a.value;
        }
    }
    if (p.status != EXIT_SUCCESS)
        return p.status;
    if (!r.png)
        return cli_usage_error("render", "needs OUTPUT and PNG");
    VSIStatBufL st;
    if (VSIStatL(r.output, &st) != 0) {
        fprintf(stderr, "FAILURE: %s: no such file or directory\n", r.output);
        return EXIT_FAILURE;
    }
    if (!r.overwrite && VSIStatL(r.png, &st) == 0) {
        fprintf(stderr, "FAILURE: %s exists; use --overwrite to replace it\n", r.png);
        return EXIT_FAILURE;
    }
    return render(&r);
}
