/* SPDX-License-Identifier: MIT */
/* `firmclust render OUTPUT MAP`: a map of an output (PNG, PDF or SVG), drawn
 * by QGIS's own renderer through PyQGIS. The script (render.py) is built into
 * the tool, so there is nothing to install beside it. */
#define _GNU_SOURCE /* struct stat64 behind VSIStatBufL */
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cpl_conv.h>
#include <cpl_vsi.h>

#include "render_py.h"

static const char *const usage =
    "Usage: firmclust render OUTPUT MAP [--regions FILE] [--region NAME] [--extent W,S,E,N]\n"
    "                        [--title TEXT] [--source TEXT] [--dpi N] [--overwrite]\n"
    "       firmclust render OUTPUT ATLAS.pdf --atlas --regions FILE [OPTIONS]\n"
    "       firmclust render OUTPUT HEAT.png --colocation [--title TEXT] [--dpi N]\n"
    "       firmclust render SUGGEST.json CURVES.png --curves [--title TEXT] [--dpi N]\n"
    "\n"
    "Draws a firmclust OUTPUT (a GeoPackage or an output directory) as a map with\n"
    "QGIS's own renderer, in the styles the output carries: cluster polygons by\n"
    "sector with labels (the largest first), firms by cluster, and the --regions\n"
    "polygons underneath with their names; a legend, a scale bar, a north arrow and a\n"
    "source line. MAP is a .png, .pdf or .svg file. Needs QGIS's Python bindings\n"
    "(Debian: python3-qgis); the Python used is $FIRMCLUST_PYTHON, else\n"
    "/usr/bin/python3.\n"
    "\n"
    "  --regions FILE   region polygons to draw under the clusters, named on the map\n"
    "  --region NAME    zoom to the region of --regions called NAME (any text field)\n"
    "  --extent W,S,E,N zoom to this box of longitude/latitude, in degrees\n"
    "  --title TEXT     the map's title (default: Economic clusters)\n"
    "  --source TEXT    the source line (default: the output's and the regions' file\n"
    "                   names and the day the map is drawn; say the licence here)\n"
    "  --dpi N          resolution of a PNG, and of what a PDF or SVG rasterises\n"
    "                   (default 150)\n"
    "  --atlas          a PDF atlas: a cover listing the regions of --regions that\n"
    "                   hold clusters, then one page each: the region's map (its\n"
    "                   neighbours grey), legend, and a table of its clusters\n"
    "  --colocation     a heat map of the colocation table instead of a map: CLQ of\n"
    "                   each pair of sectors (row to column), a dot where q <= 0.05,\n"
    "                   related sectors side by side\n"
    "  --curves         OUTPUT is the JSON of 'firmclust suggest --json': draw each\n"
    "                   sector's sorted k-distances, its suggested eps marked\n"
    "  --overwrite      replace an existing MAP\n";

enum { OPT_HELP = 1, OPT_REGIONS, OPT_REGION, OPT_EXTENT, OPT_TITLE, OPT_SOURCE, OPT_DPI,
       OPT_ATLAS, OPT_OVERWRITE, OPT_COLOCATION, OPT_CURVES };
static const cli_option render_options[] = {
    {"help", 'h', false, OPT_HELP},
    {"regions", 0, true, OPT_REGIONS},
    {"region", 0, true, OPT_REGION},
    {"extent", 0, true, OPT_EXTENT},
    {"title", 0, true, OPT_TITLE},
    {"source", 0, true, OPT_SOURCE},
    {"dpi", 0, true, OPT_DPI},
    {"atlas", 0, false, OPT_ATLAS},
    {"colocation", 0, false, OPT_COLOCATION},
    {"curves", 0, false, OPT_CURVES},
    {"overwrite", 0, false, OPT_OVERWRITE},
    {NULL, 0, false, 0},
};

typedef struct render_args {
    const char *output, *map, *regions, *region, *extent, *title, *source, *dpi;
    const char *format; /* png, pdf or svg: MAP's extension */
    const char *atlas;  /* "1" for --atlas, else NULL */
    const char *colocation; /* "1" for --colocation, else NULL */
    const char *curves;     /* "1" for --curves, else NULL */
    bool overwrite;
} render_args;

/* The script's command line: python, the script, OUTPUT, the temporary
 * map, then key=value for each option given. NULL-terminated; free it with
 * free_script_args(). NULL when out of memory. */
static char **script_args(const render_args *r, const char *python, const char *script,
                          const char *tmp_map)
{
    const char *keys[] = {"format", "regions", "region", "extent", "title", "source", "dpi",
                          "atlas", "colocation", "curves"};
    const char *values[] = {r->format, r->regions, r->region, r->extent, r->title, r->source,
                            r->dpi, r->atlas, r->colocation, r->curves};
    enum { N_KEYS = sizeof keys / sizeof keys[0] };
    char **args = calloc(4 + N_KEYS + 1, sizeof *args);
    if (!args)
        return NULL;
    int n = 0;
    bool ok = (args[n++] = strdup(python)) && (args[n++] = strdup(script)) &&
              (args[n++] = strdup(r->output)) && (args[n++] = strdup(tmp_map));
    for (int i = 0; ok && i < N_KEYS; i++) {
        if (!values[i] || !*values[i])
            continue;
        if (asprintf(&args[n], "%s=%s", keys[i], values[i]) < 0) {
            args[n] = NULL; /* asprintf leaves it undefined */
            ok = false;
        } else {
            n++;
        }
    }
    if (!ok) {
        for (int i = 0; i < n; i++)
            free(args[i]);
        free(args);
        return NULL;
    }
    return args;
}

static void free_script_args(char **args)
{
    for (char **a = args; a && *a; a++)
        free(*a);
    free(args);
}

/* Runs the script with QGIS's Python, its messages into `log`; returns its
 * exit status, 127 when Python could not be started, -1 when it did not
 * exit. */
static int run_script(char **args, int log_fd)
{
    pid_t pid = fork();
    if (pid == 0) {
        dup2(log_fd, STDOUT_FILENO);
        dup2(log_fd, STDERR_FILENO);
        setenv("QT_QPA_PLATFORM", "offscreen", 0);
        execv(args[0], args);
        _exit(127);
    }
    int status = -1;
    if (pid > 0)
        waitpid(pid, &status, 0);
    return pid > 0 && WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* The script exits with this when what the user gave will not do (no such
 * region, say); its last line says why. */
#define SCRIPT_BAD_INPUT 3

static void say_why(const char *output, const char *python, const char *log, int exit_status)
{
    char text[4096] = "";
    FILE *f = fopen(log, "r");
    size_t n = f ? fread(text, 1, sizeof text - 1, f) : 0;
    text[n] = '\0';
    if (f)
        fclose(f);
    while (n > 0 && text[n - 1] == '\n')
        text[--n] = '\0';
    const char *last = strrchr(text, '\n') ? strrchr(text, '\n') + 1 : text;
    if (strstr(text, "No module named 'qgis'") || exit_status == 127)
        fprintf(stderr, "FAILURE: render needs QGIS's Python bindings (Debian: apt-get install "
                        "python3-qgis), for %s\n", python);
    else if (exit_status == SCRIPT_BAD_INPUT)
        fprintf(stderr, "FAILURE: %s\n", last);
    else
        fprintf(stderr, "FAILURE: %s: QGIS could not draw it:\n%s\n", output, text);
}

/* After a map was drawn: the script's warnings (a view with no firm, a map
 * too wide for a scale bar), its lines that start with "Warning: ". */
static void say_warnings(const char *log)
{
    FILE *f = fopen(log, "r");
    char line[2048];
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, "Warning: ", 9) == 0)
            fputs(line, stderr);
    if (f)
        fclose(f);
}

/* The script and its messages in temporary files; the map under a
 * temporary name beside MAP, renamed into place when complete. */
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
    char tmp_map[4200];
    snprintf(tmp_map, sizeof tmp_map, "%s%s.%s.%ld.tmp.%s", CPLGetPath(r->map),
             *CPLGetPath(r->map) ? "/" : "", CPLGetFilename(r->map), (long)getpid(), r->format);
    const char *python = getenv("FIRMCLUST_PYTHON") ? getenv("FIRMCLUST_PYTHON") : "/usr/bin/python3";
    char **args = script_args(r, python, script, tmp_map);
    int exit_status = args ? run_script(args, log_fd) : -1;
    free_script_args(args);
    close(log_fd);
    unlink(script);
    int rc = EXIT_SUCCESS;
    if (exit_status != 0) {
        say_why(r->output, python, log, exit_status);
        unlink(tmp_map);
        rc = EXIT_FAILURE;
    } else if (say_warnings(log), rename(tmp_map, r->map) != 0) {
        fprintf(stderr, "FAILURE: %s: cannot move into place\n", r->map);
        unlink(tmp_map);
        rc = EXIT_FAILURE;
    }
    unlink(log);
    return rc;
}

/* MAP's format from its extension; NULL when it is none of ours. */
static const char *map_format(const char *path)
{
    const char *ext = CPLGetExtension(path);
    if (strcasecmp(ext, "png") == 0)
        return "png";
    if (strcasecmp(ext, "pdf") == 0)
        return "pdf";
    if (strcasecmp(ext, "svg") == 0)
        return "svg";
    return NULL;
}

/* West, south, east, north in degrees, west below east, south below north. */
static bool good_extent(const char *text)
{
    double v[4];
    char tail;
    return sscanf(text, "%lf,%lf,%lf,%lf%c", &v[0], &v[1], &v[2], &v[3], &tail) == 4 &&
           v[0] >= -180 && v[2] <= 180 && v[1] >= -90 && v[3] <= 90 && v[0] < v[2] && v[1] < v[3];
}

static int check_args(const render_args *r)
{
    if (!r->map)
        return cli_usage_error("render", "needs OUTPUT and MAP");
    if (!r->format)
        return cli_usage_error("render", "MAP must end in .png, .pdf or .svg, not '%s'", r->map);
    if (r->atlas && (strcmp(r->format, "pdf") != 0 || !r->regions || r->region || r->extent))
        return cli_usage_error("render", "--atlas writes a PDF (ATLAS.pdf), with --regions, and "
                                         "without --region or --extent");
    if (r->curves && (r->colocation || r->atlas || r->region || r->extent || r->regions))
        return cli_usage_error("render", "--curves draws the JSON of firmclust suggest: not with "
                                         "--colocation, --atlas, --regions, --region or --extent");
    if (r->colocation && (r->atlas || r->region || r->extent))
        return cli_usage_error("render", "--colocation draws a heat map, not a map: not with "
                                         "--atlas, --region or --extent");
    if (r->region && !r->regions)
        return cli_usage_error("render", "--region names a region of --regions, which is not given");
    if (r->region && r->extent)
        return cli_usage_error("render", "--region and --extent do not go together");
    if (r->extent && !good_extent(r->extent))
        return cli_usage_error("render", "--extent takes W,S,E,N in degrees of longitude and "
                                         "latitude, west below east and south below north, not "
                                         "'%s'", r->extent);
    char *end;
    long dpi = r->dpi ? strtol(r->dpi, &end, 10) : 150;
    if (r->dpi && (*end || end == r->dpi || dpi < 30 || dpi > 1200))
        return cli_usage_error("render", "--dpi takes a whole number from 30 to 1200, not '%s'",
                               r->dpi);
    return EXIT_SUCCESS;
}

int cmd_render(int argc, char **argv)
{
    render_args r = {0};
    cli_parser p;
    cli_arg a;
    cli_parser_init(&p, "render", render_options, false, argc, argv);
    while (cli_next(&p, &a)) {
        switch (a.id) {
        case OPT_HELP: printf("%s", usage); return EXIT_SUCCESS;
        case OPT_REGIONS: r.regions = a.value; break;
        case OPT_REGION: r.region = a.value; break;
        case OPT_EXTENT: r.extent = a.value; break;
        case OPT_TITLE: r.title = a.value; break;
        case OPT_SOURCE: r.source = a.value; break;
        case OPT_DPI: r.dpi = a.value; break;
        case OPT_ATLAS: r.atlas = "1"; break;
        case OPT_COLOCATION: r.colocation = "1"; break;
        case OPT_CURVES: r.curves = "1"; break;
        case OPT_OVERWRITE: r.overwrite = true; break;
        default:
            if (r.map)
                return cli_usage_error("render", "too many arguments: %s", a.text);
            *(r.output ? &r.map : &r.output) = a.value;
        }
    }
    if (p.status != EXIT_SUCCESS)
        return p.status;
    r.format = r.map ? map_format(r.map) : NULL;
    int rc = check_args(&r);
    if (rc != EXIT_SUCCESS)
        return rc;
    VSIStatBufL st;
    if (VSIStatL(r.output, &st) != 0) {
        fprintf(stderr, "FAILURE: %s: no such file or directory\n", r.output);
        return EXIT_FAILURE;
    }
    if (!r.overwrite && VSIStatL(r.map, &st) == 0) {
        fprintf(stderr, "FAILURE: %s exists; use --overwrite to replace it\n", r.map);
        return EXIT_FAILURE;
    }
    return render(&r);
}
