/* SPDX-License-Identifier: MIT */
/* Synthetic firms of Kazakhstan: a realistic, deterministic test set.
 *
 * Firms gather around 31 real cities in proportion to their population.
 * Each sector (an OKED subclass code) has a share of all firms and an
 * affinity for some cities: oil near Atyrau, Aktau and Zhanaozen, steel in
 * Temirtau, copper in Balkhash and Zhezkazgan, IT in Almaty and Astana,
 * grain in the rural north. Within a city a firm lies either in one of its
 * sector's districts (tight, so clusters form) or anywhere in the city;
 * a share of firms, most of all in farming, is scattered over the
 * countryside around a city. Employee counts are log-normal (heavy tail). */
#include "io/io.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cpl_error.h>
#include <cpl_string.h>

typedef struct city {
    const char *name_kk;
    double lat, lon;
    double population;
} city;

static const city cities[] = {
    {"Алматы", 43.238, 76.889, 2200000},   {"Астана", 51.169, 71.449, 1350000},
    {"Шымкент", 42.341, 69.590, 1200000},  {"Ақтөбе", 50.283, 57.167, 560000},
    {"Қарағанды", 49.806, 73.085, 500000}, {"Тараз", 42.900, 71.367, 430000},
    {"Өскемен", 49.948, 82.628, 330000},   {"Павлодар", 52.287, 76.967, 360000},
    {"Атырау", 47.117, 51.883, 300000},    {"Семей", 50.411, 80.227, 350000},
    {"Қостанай", 53.214, 63.624, 250000},  {"Қызылорда", 44.853, 65.509, 320000},
    {"Орал", 51.233, 51.367, 330000},      {"Петропавл", 54.875, 69.162, 220000},
    {"Ақтау", 43.680, 51.250, 260000},     {"Теміртау", 50.054, 72.964, 180000},
    {"Түркістан", 43.297, 68.251, 200000}, {"Көкшетау", 53.283, 69.383, 180000},
    {"Талдықорған", 45.017, 78.383, 180000}, {"Екібастұз", 51.723, 75.323, 150000},
    {"Рудный", 52.959, 63.117, 130000},    {"Жаңаөзен", 43.341, 52.862, 160000},
    {"Жезқазған", 47.783, 67.767, 90000},  {"Балқаш", 46.848, 74.995, 70000},
    {"Қонаев", 43.884, 77.068, 60000},     {"Сәтбаев", 47.900, 67.533, 70000},
    {"Құлсары", 46.953, 54.019, 70000},    {"Риддер", 50.344, 83.513, 50000},
    {"Ақсу", 52.041, 76.927, 40000},       {"Хромтау", 50.250, 58.433, 25000},
    {"Степногорск", 52.350, 71.883, 45000},
};
#define N_CITIES (sizeof cities / sizeof cities[0])

/* The cities with a boundary of their own (cities of republican
 * significance), whose firms are placed inside it: their polygons from
 * fixtures/kz/kaz_admbnda_adm1_2024 (geokz 1.0.2 by Alexander Rodionov, after
 * the Bureau of National Statistics of Kazakhstan; CC BY 4.0), shrunk by
 * 0.01 degrees and simplified to 0.004 degrees, so that a firm inside one is
 * inside the published boundary:
 *   ogr2ogr -dialect sqlite -sql "SELECT ST_AsText(ST_SimplifyPreserveTopology(
 *       ST_Buffer(ST_MakeValid(geometry), -0.01), 0.004)) ..." */
typedef struct city_boundary {
    const char *name_kk;
    const char *countryside; /* the town of the region around it, as in cities[] */
    const char *wkt;
} city_boundary;

static const city_boundary city_boundaries[] = {
    {"Алматы", "Қонаев", /* Almaty oblast */
    "MULTIPOLYGON(((76.764641 43.304735, 76.806859 43.321257, 76.818521 43.343968, 76.840108 "
    "43.344074, 76.846649 43.326461, 76.866633 43.327099, 76.883586 43.318363, 76.937435 "
    "43.367171, 76.969065 43.370465, 76.993068 43.389218, 77.001107 43.379484, 77.003177 "
    "43.354294, 77.023674 43.352504, 77.027551 43.337058, 77.016194 43.322257, 77.020823 "
    "43.310948, 77.001003 43.294488, 77.003075 43.275982, 76.995491 43.258665, 77.025087 "
    "43.239159, 77.061689 43.189906, 77.090126 43.170763, 77.067727 43.174815, 77.050319 "
    "43.161415, 77.054574 43.139428, 77.074171 43.123447, 77.070091 43.100084, 77.079104 "
    "43.071017, 77.069863 43.043642, 76.973709 43.057557, 76.975853 43.077421, 76.961144 "
    "43.090972, 76.930464 43.095139, 76.910161 43.090239, 76.908633 43.11574, 76.900187 "
    "43.134736, 76.818601 43.146203, 76.802463 43.163706, 76.79932 43.199672, 76.786937 "
    "43.21044, 76.795669 43.230169, 76.79271 43.240064, 76.803092 43.247792, 76.807559 "
    "43.285648, 76.800204 43.296008, 76.764641 43.304735)), ((77.107243 43.165683, 77.109994 "
    "43.166756, 77.112348 43.168432, 77.111368 43.163242, 77.107243 43.165683)), ((77.123227 "
    "43.177803, 77.124295 43.190801, 77.132823 43.189009, 77.136323 43.181762, 77.123227 "
    "43.177803)))"},
    {"Астана", "Көкшетау", /* Akmola oblast */
    "MULTIPOLYGON(((71.234646 51.098763, 71.248504 51.144257, 71.262153 51.151831, 71.264097 "
    "51.164342, 71.286314 51.17036, 71.291774 51.177764, 71.277988 51.19748, 71.253498 "
    "51.203818, 71.258176 51.226066, 71.27598 51.235164, 71.323545 51.222286, 71.328529 "
    "51.232458, 71.320994 51.240756, 71.339524 51.257745, 71.372907 51.263625, 71.37629 "
    "51.272539, 71.369314 51.289734, 71.378933 51.291254, 71.396844 51.257892, 71.460066 "
    "51.264569, 71.466425 51.251904, 71.551023 51.233014, 71.568429 51.240495, 71.594024 "
    "51.264483, 71.603859 51.250889, 71.588517 51.240615, 71.586665 51.231248, 71.635138 "
    "51.136314, 71.643652 51.130077, 71.700498 51.125513, 71.6945 51.112235, 71.698497 "
    "51.102448, 71.67289 51.096717, 71.612197 51.108939, 71.552595 51.060009, 71.532512 "
    "51.054401, 71.530644 51.044926, 71.542799 51.021825, 71.528467 51.011989, 71.527026 "
    "50.987523, 71.543729 50.968257, 71.538584 50.941264, 71.492708 50.940879, 71.478593 "
    "50.949025, 71.463314 50.968237, 71.464089 51.002119, 71.457477 51.010122, 71.319686 "
    "51.033673, 71.290753 51.031756, 71.26536 51.053953, 71.262196 51.070748, 71.234646 "
    "51.098763)), ((71.660874 51.327237, 71.671736 51.330686, 71.679139 51.335543, 71.665536 "
    "51.324632, 71.660874 51.327237)), ((71.379892 50.875187, 71.380014 50.875546, 71.429355 "
    "50.868927, 71.429247 50.868602, 71.379892 50.875187)), ((71.317831 51.276761, 71.317846 "
    "51.278506, 71.317448 51.281606, 71.32025 51.277465, 71.317831 51.276761)))"},
    {"Шымкент", "Түркістан", /* Turkestan oblast */
    "POLYGON((69.321931 42.324031, 69.318003 42.33059, 69.333096 42.351089, 69.325025 "
    "42.362546, 69.385528 42.374326, 69.406383 42.409806, 69.432001 42.40504, 69.445657 "
    "42.412447, 69.448697 42.429513, 69.473372 42.440244, 69.466816 42.463824, 69.472174 "
    "42.469134, 69.529567 42.46832, 69.590893 42.448353, 69.696861 42.431994, 69.701652 "
    "42.406828, 69.729414 42.403038, 69.748978 42.393144, 69.768289 42.381101, 69.771975 "
    "42.368694, 69.804169 42.350227, 69.806003 42.341176, 69.81839 42.331727, 69.835623 "
    "42.324754, 69.862738 42.324229, 69.878482 42.304262, 69.903251 42.291614, 69.880376 "
    "42.295998, 69.858909 42.277285, 69.822889 42.27635, 69.796534 42.257028, 69.793894 "
    "42.244315, 69.815193 42.222225, 69.783269 42.224325, 69.766196 42.214325, 69.771738 "
    "42.228509, 69.76289 42.241866, 69.708316 42.23823, 69.685294 42.204221, 69.651778 "
    "42.206087, 69.6357 42.171177, 69.610721 42.168363, 69.598672 42.141543, 69.577631 "
    "42.148757, 69.559296 42.141396, 69.517047 42.146327, 69.506474 42.13421, 69.491833 "
    "42.134806, 69.491713 42.144633, 69.480974 42.154586, 69.458524 42.156476, 69.434003 "
    "42.173238, 69.425836 42.196145, 69.40166 42.228093, 69.367424 42.236072, 69.380098 "
    "42.250689, 69.363105 42.281732, 69.359155 42.314109, 69.345253 42.333049, 69.321931 "
    "42.324031))"},
};
#define N_BOUNDARIES (sizeof city_boundaries / sizeof city_boundaries[0])

typedef struct affinity {
    const char *city; /* Kazakh name, as in cities[] */
    double factor;
} affinity;

typedef struct sector {
    const char *oked;
    double share;          /* of all firms, before normalisation */
    double other_cities;   /* affinity of cities not listed */
    double rural;          /* share scattered over the countryside */
    double district;       /* share of urban firms in the sector's districts */
    double log_employees;  /* log-normal employees: mean and sd of the log */
    double log_sd;
    affinity aff[8];
} sector;

static const sector sectors[] = {
    {"47111", 0.20, 1, 0.08, 0.25, 1.0, 1.0, {{0}}},                       /* food retail */
    {"46900", 0.06, 1, 0.03, 0.35, 1.5, 1.2, {{"Алматы", 1.5}, {"Шымкент", 1.3}}}, /* wholesale */
    {"41201", 0.07, 1, 0.10, 0.25, 2.0, 1.3, {{"Астана", 1.4}}},             /* housing construction */
    {"49410", 0.06, 1, 0.15, 0.30, 1.3, 1.1, {{0}}},                       /* road freight */
    {"56101", 0.07, 1, 0.05, 0.40, 1.6, 0.9, {{"Алматы", 1.5}, {"Астана", 1.3}}}, /* restaurants */
    {"68201", 0.05, 1, 0.02, 0.30, 0.7, 0.8, {{"Алматы", 1.4}, {"Астана", 1.4}}}, /* real estate */
    {"45200", 0.04, 1, 0.10, 0.30, 1.0, 0.8, {{0}}},                       /* car repair */
    {"10711", 0.02, 1, 0.15, 0.20, 1.6, 1.0, {{0}}},                       /* bakeries */
    {"85100", 0.04, 1, 0.15, 0.10, 2.5, 0.7, {{0}}},                       /* pre-school education */
    {"86210", 0.03, 1, 0.10, 0.20, 2.0, 1.0, {{0}}},                       /* general medical practice */
    {"62011", 0.03, 0.2, 0.00, 0.70, 2.0, 1.2, {{"Алматы", 6}, {"Астана", 4}, {"Қарағанды", 1}}}, /* IT */
    {"64191", 0.005, 0.3, 0.00, 0.80, 4.0, 1.5, {{"Алматы", 10}, {"Астана", 5}}}, /* banking */
    {"55101", 0.01, 1, 0.05, 0.50, 2.2, 1.0,
     {{"Алматы", 2}, {"Астана", 2}, {"Түркістан", 4}, {"Қонаев", 4}}},   /* hotels */
    {"13921", 0.006, 0.1, 0.02, 0.80, 2.5, 1.2, {{"Шымкент", 12}, {"Тараз", 3}, {"Алматы", 2}}}, /* textiles */
    {"06100", 0.015, 0.02, 0.30, 0.75, 4.0, 1.6,
     {{"Атырау", 40}, {"Ақтау", 25}, {"Жаңаөзен", 40}, {"Құлсары", 40}, {"Ақтөбе", 6},
      {"Қызылорда", 8}, {"Орал", 6}}},                                     /* crude petroleum */
    {"09100", 0.020, 0.02, 0.20, 0.70, 3.0, 1.4,
     {{"Атырау", 40}, {"Ақтау", 30}, {"Жаңаөзен", 30}, {"Құлсары", 30}, {"Ақтөбе", 5},
      {"Қызылорда", 6}, {"Орал", 5}}},                                     /* oil services */
    {"24100", 0.004, 0.01, 0.00, 0.90, 4.5, 1.8,
     {{"Теміртау", 60}, {"Ақсу", 40}, {"Павлодар", 8}, {"Рудный", 15}, {"Қарағанды", 5}}}, /* steel */
    {"24420", 0.002, 0.01, 0.00, 0.90, 4.5, 1.8, {{"Павлодар", 60}, {"Екібастұз", 5}}}, /* aluminium */
    {"24430", 0.002, 0.01, 0.00, 0.90, 4.0, 1.8, {{"Өскемен", 50}, {"Риддер", 80}, {"Шымкент", 8}}}, /* lead, zinc */
    {"24440", 0.002, 0.01, 0.05, 0.90, 4.5, 1.8,
     {{"Балқаш", 80}, {"Жезқазған", 80}, {"Сәтбаев", 40}, {"Өскемен", 10}}}, /* copper */
    {"05100", 0.003, 0.01, 0.30, 0.80, 4.5, 1.8, {{"Екібастұз", 80}, {"Қарағанды", 20}, {"Теміртау", 5}}}, /* coal */
    {"07210", 0.001, 0.01, 0.50, 0.70, 4.0, 1.5, {{"Степногорск", 60}, {"Түркістан", 20}, {"Қызылорда", 10}}}, /* uranium */
    {"07290", 0.002, 0.01, 0.30, 0.80, 4.0, 1.5, {{"Хромтау", 80}, {"Риддер", 20}, {"Жезқазған", 10}}}, /* other ores */
    {"01110", 0.06, 0.2, 0.85, 0.30, 2.0, 1.2,
     {{"Қостанай", 6}, {"Көкшетау", 6}, {"Петропавл", 6}, {"Павлодар", 2}, {"Орал", 2},
      {"Астана", 1.5}, {"Ақтөбе", 1}}},                                    /* cereals */
    {"01451", 0.03, 0.3, 0.85, 0.20, 1.0, 0.8,
     {{"Шымкент", 5}, {"Түркістан", 6}, {"Тараз", 5}, {"Қызылорда", 3}, {"Талдықорған", 3},
      {"Семей", 3}}},                                                      /* sheep and goats */
};
#define N_SECTORS (sizeof sectors / sizeof sectors[0])
#define DISTRICTS 3 /* per sector and city */

/* Related sectors, planted where Kazakhstan has them, so that the sample
 * holds clusters of several sectors and not only of one: in each city
 * listed, a share of the ordinary firms (those of the sectors found in
 * every city) become firms of a sector related to an anchor sector there,
 * in the anchor's districts. Each firm decides on a random stream of its
 * own, so the firms that are not planted are exactly what they were. */
typedef struct planted {
    const char *oked, *anchor, *city;
    double share;                 /* of the city's ordinary firms */
    double log_employees, log_sd; /* as in sector */
} planted;

static const planted planted_sectors[] = {
    {"71120", "06100", "Атырау", 0.05, 2.5, 1.2},    /* oil and gas engineering */
    {"71120", "06100", "Ақтау", 0.05, 2.5, 1.2},
    {"25110", "24100", "Теміртау", 0.12, 3.0, 1.3},  /* metal structures by the steel works */
    {"25110", "24100", "Қарағанды", 0.04, 3.0, 1.3},
    {"14130", "13921", "Шымкент", 0.03, 2.3, 1.1},   /* apparel by the textile mills */
    {"63110", "62011", "Алматы", 0.02, 2.0, 1.2},    /* data processing and hosting by IT */
    {"63110", "62011", "Астана", 0.02, 2.0, 1.2},
};
#define N_PLANTED (sizeof planted_sectors / sizeof planted_sectors[0])

/* Oil services work where oil is extracted: in the oil towns, the service
 * firms' districts are the extraction firms'. */
static const struct {
    const char *oked, *with, *cities[4];
} shared_districts[] = {
    {"09100", "06100", {"Атырау", "Ақтау", "Жаңаөзен", "Құлсары"}},
};

/* xoshiro256** seeded by splitmix64: fast, and the same on every machine. */
typedef struct rng {
    uint64_t s[4];
} rng;


static void rng_seed(rng *r, uint64_t seed)
{
    for (int i = 0; i < 4; i++)
        r->s[i] = fc_splitmix64(&seed);
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

static uint64_t rng_next(rng *r)
{
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

/* Uniform in [0, 1). */
static double rng_uniform(rng *r) { return (double)(rng_next(r) >> 11) * 0x1.0p-53; }

static double rng_normal(rng *r)
{
    double u = 1.0 - rng_uniform(r), v = rng_uniform(r); /* u in (0, 1] */
    return sqrt(-2.0 * log(u)) * cos(2.0 * M_PI * v);
}

/* Index of the first cumulative weight above u * total. */
static size_t pick(const double *cumulative, size_t n, double u)
{
    double target = u * cumulative[n - 1];
    size_t lo = 0, hi = n - 1;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (cumulative[mid] > target)
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}

static double city_affinity(const sector *s, const char *name)
{
    for (int a = 0; a < 8 && s->aff[a].city; a++)
        if (strcmp(s->aff[a].city, name) == 0)
            return s->aff[a].factor;
    return s->other_cities;
}

typedef struct model {
    double sector_cdf[N_SECTORS];
    double city_cdf[N_SECTORS][N_CITIES];
    double district_dx[N_SECTORS][N_CITIES][DISTRICTS]; /* km from the centre */
    double district_dy[N_SECTORS][N_CITIES][DISTRICTS];
    GEOSContextHandle_t geos;
    GEOSGeometry *boundary[N_CITIES];                   /* NULL: none of its own */
    const GEOSPreparedGeometry *inside[N_CITIES];
    size_t countryside_town[N_CITIES];                 /* with a boundary: see city_boundary */
    size_t planted_city[N_PLANTED], planted_anchor[N_PLANTED]; /* of planted_sectors */
} model;

static void model_free_boundaries(model *m)
{
    for (size_t c = 0; c < N_CITIES; c++) {
        if (m->inside[c])
            GEOSPreparedGeom_destroy_r(m->geos, m->inside[c]);
        if (m->boundary[c])
            GEOSGeom_destroy_r(m->geos, m->boundary[c]);
    }
    if (m->geos)
        GEOS_finish_r(m->geos);
}

/* Reads the boundaries of the cities that have one; false if GEOS cannot. */
static bool model_boundaries(model *m)
{
    if (!(m->geos = GEOS_init_r()))
        return false;
    GEOSWKTReader *reader = GEOSWKTReader_create_r(m->geos);
    bool ok = reader != NULL;
    for (size_t b = 0; ok && b < N_BOUNDARIES; b++)
        for (size_t c = 0; ok && c < N_CITIES; c++)
            if (strcmp(cities[c].name_kk, city_boundaries[b].name_kk) == 0) {
                for (size_t t = 0; t < N_CITIES; t++)
                    if (strcmp(cities[t].name_kk, city_boundaries[b].countryside) == 0)
                        m->countryside_town[c] = t;
                ok = (m->boundary[c] = GEOSWKTReader_read_r(m->geos, reader, city_boundaries[b].wkt)) &&
                     (m->inside[c] = GEOSPrepare_r(m->geos, m->boundary[c]));
            }
    if (reader)
        GEOSWKTReader_destroy_r(m->geos, reader);
    return ok;
}

static bool in_boundary(const model *m, size_t c, double lon, double lat)
{
    GEOSGeometry *pt = GEOSGeom_createPointFromXY_r(m->geos, lon, lat);
    bool in = pt && GEOSPreparedContains_r(m->geos, m->inside[c], pt) == 1;
    if (pt)
        GEOSGeom_destroy_r(m->geos, pt);
    return in;
}

static double city_radius_km(const city *c) { return 1.5 + 5.5 * sqrt(c->population / 2.2e6); }

static size_t city_index(const char *name)
{
    for (size_t c = 0; c < N_CITIES; c++)
        if (strcmp(cities[c].name_kk, name) == 0)
            return c;
    return 0;
}

static size_t sector_index(const char *oked)
{
    for (size_t s = 0; s < N_SECTORS; s++)
        if (strcmp(sectors[s].oked, oked) == 0)
            return s;
    return 0;
}

static void model_init(model *m, uint64_t seed)
{
    double acc = 0;
    for (size_t s = 0; s < N_SECTORS; s++) {
        m->sector_cdf[s] = (acc += sectors[s].share);
        double cacc = 0;
        for (size_t c = 0; c < N_CITIES; c++)
            m->city_cdf[s][c] = (cacc += cities[c].population * city_affinity(&sectors[s], cities[c].name_kk));
    }
    rng r;
    rng_seed(&r, seed ^ 0xD1579C75ULL);
    for (size_t s = 0; s < N_SECTORS; s++)
        for (size_t c = 0; c < N_CITIES; c++)
            for (int d = 0; d < DISTRICTS; d++) {
                double rad = city_radius_km(&cities[c]) * 0.8;
                m->district_dx[s][c][d] = rad * rng_normal(&r);
                m->district_dy[s][c][d] = rad * rng_normal(&r);
            }
    for (size_t k = 0; k < N_PLANTED; k++) {
        m->planted_city[k] = city_index(planted_sectors[k].city);
        m->planted_anchor[k] = sector_index(planted_sectors[k].anchor);
    }
    for (size_t k = 0; k < sizeof shared_districts / sizeof shared_districts[0]; k++) {
        const size_t s = sector_index(shared_districts[k].oked);
        const size_t with = sector_index(shared_districts[k].with);
        for (int t = 0; t < 4 && shared_districts[k].cities[t]; t++) {
            const size_t c = city_index(shared_districts[k].cities[t]);
            memcpy(m->district_dx[s][c], m->district_dx[with][c], sizeof m->district_dx[s][c]);
            memcpy(m->district_dy[s][c], m->district_dy[with][c], sizeof m->district_dy[s][c]);
        }
    }
}

typedef struct firm {
    double lon, lat;
    size_t sector, city;
    const char *oked;
    bool rural; /* placed in the countryside around its city */
    int employees;
} firm;

/* A firm's place (km east and north of its city's centre): in one of its
 * sector's districts, anywhere in the city, or in the countryside around it
 * (then true). */
static bool place(const model *m, rng *r, size_t s, size_t c, double *dx, double *dy)
{
    const sector *sec = &sectors[s];
    if (rng_uniform(r) < sec->rural) {
        double sigma = 25 + 35 * rng_uniform(r);
        *dx = sigma * rng_normal(r);
        *dy = sigma * rng_normal(r);
        return true;
    }
    if (rng_uniform(r) < sec->district) {
        int d = (int)(rng_uniform(r) * DISTRICTS);
        *dx = m->district_dx[s][c][d] + 0.6 * rng_normal(r);
        *dy = m->district_dy[s][c][d] + 0.6 * rng_normal(r);
    } else {
        double sigma = city_radius_km(&cities[c]);
        *dx = sigma * rng_normal(r);
        *dy = sigma * rng_normal(r);
    }
    return false;
}

static void make_firm(const model *m, rng *r, firm *f)
{
    size_t s = pick(m->sector_cdf, N_SECTORS, rng_uniform(r));
    size_t c = pick(m->city_cdf[s], N_CITIES, rng_uniform(r));
    const sector *sec = &sectors[s];
    const city *ct = &cities[c];
    f->city = c;
    /* A city with a boundary of its own keeps its firms inside it, and the
     * countryside around it is another region's: a firm placed there is
     * drawn again until it lies outside, and takes the name of that region's
     * town. After 1000 misses, the centre. */
    for (int tries = 0;; tries++) {
        double dx, dy; /* km */
        bool rural = place(m, r, s, c, &dx, &dy);
        f->lat = ct->lat + dy / 111.32;
        f->lon = ct->lon + dx / (111.32 * cos(ct->lat * M_PI / 180.0));
        f->rural = rural;
        if (!m->inside[c] || in_boundary(m, c, f->lon, f->lat) != rural) {
            if (m->inside[c] && rural)
                f->city = m->countryside_town[c];
            break;
        }
        if (tries == 1000) {
            f->lat = ct->lat;
            f->lon = ct->lon;
            break;
        }
    }
    f->sector = s;
    f->oked = sec->oked;
    double e = exp(sec->log_employees + sec->log_sd * rng_normal(r));
    f->employees = e < 1 ? 1 : e > 60000 ? 60000 : (int)e;
}

/* Firm i, an ordinary firm in its city, may become a firm of a related
 * sector planted there (planted_sectors), in one of the anchor's districts.
 * It draws on a stream of its own, seeded from (seed, i): the other firms,
 * drawn from the main stream, stay as they were. */
static void plant_related(const model *m, uint64_t seed, size_t i, firm *f)
{
    if (f->rural || sectors[f->sector].other_cities != 1)
        return;
    rng r;
    rng_seed(&r, seed ^ 0x9E3779B97F4A7C15ULL * (uint64_t)(i + 1));
    for (size_t k = 0; k < N_PLANTED; k++) {
        const planted *p = &planted_sectors[k];
        const size_t c = m->planted_city[k], a = m->planted_anchor[k];
        if (c != f->city || rng_uniform(&r) >= p->share)
            continue;
        const city *ct = &cities[c];
        for (int tries = 0; tries < 100; tries++) {
            const int d = (int)(rng_uniform(&r) * DISTRICTS);
            const double dx = m->district_dx[a][c][d] + 0.6 * rng_normal(&r);
            const double dy = m->district_dy[a][c][d] + 0.6 * rng_normal(&r);
            const double lat = ct->lat + dy / 111.32;
            const double lon = ct->lon + dx / (111.32 * cos(ct->lat * M_PI / 180.0));
            if (m->inside[c] && !in_boundary(m, c, lon, lat))
                continue; /* a city's firm stays inside its boundary */
            const double e = exp(p->log_employees + p->log_sd * rng_normal(&r));
            f->lat = lat;
            f->lon = lon;
            f->oked = p->oked;
            f->employees = e < 1 ? 1 : e > 60000 ? 60000 : (int)e;
            return;
        }
        return;
    }
}

static int write_synth(fc_context *ctx, GDALDatasetH ds, size_t n_firms, uint64_t seed)
{
    OGRSpatialReferenceH wgs84 = OSRNewSpatialReference(NULL);
    OSRImportFromEPSG(wgs84, 4326);
    OSRSetAxisMappingStrategy(wgs84, OAMS_TRADITIONAL_GIS_ORDER);
    char **lco = NULL;
    if (strcmp(GDALGetDriverShortName(GDALGetDatasetDriver(ds)), "ESRI Shapefile") == 0)
        lco = CSLSetNameValue(lco, "ENCODING", "UTF-8");
    lco = fc_rtree_layer_options(ds, lco); /* the index is packed at the end */
    OGRLayerH l = GDALDatasetCreateLayer(ds, "firms", wgs84, wkbPoint, lco);
    CSLDestroy(lco);
    OSRRelease(wgs84);
    if (!l)
        return fc_error_gdal(ctx, FC_EIO, "%s: cannot create layer firms", GDALGetDescription(ds));
    static const struct { const char *name; OGRFieldType type; int width; } fields[] = {
        {"firm_id", OFTInteger64, 0}, {"name", OFTString, 60}, {"oked", OFTString, 5},
        {"employees", OFTInteger, 0}, {"city", OFTString, 40}};
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
        OGRFieldDefnH fd = OGR_Fld_Create(fields[i].name, fields[i].type);
        OGR_Fld_SetWidth(fd, fields[i].width);
        OGRErr err = OGR_L_CreateField(l, fd, TRUE);
        OGR_Fld_Destroy(fd);
        if (err != OGRERR_NONE)
            return fc_error_gdal(ctx, FC_EIO, "cannot create field %s", fields[i].name);
    }
    fc_rtree *index;
    int status = fc_rtree_begin(ctx, ds, l, &index);
    model *m = status == FC_OK ? calloc(1, sizeof *m) : NULL;
    if (!m || !model_boundaries(m)) {
        fc_rtree_free(index);
        if (m)
            model_free_boundaries(m);
        free(m);
        return status != FC_OK ? status : fc_error(ctx, FC_ENOMEM, "out of memory");
    }
    model_init(m, seed);
    rng r;
    rng_seed(&r, seed);
    OGRFeatureDefnH defn = OGR_L_GetLayerDefn(l);
    OGRFeatureH feat = OGR_F_Create(defn);
    bool in_tx = false;
    for (size_t i = 0; i < n_firms && status == FC_OK; i++) {
        if (i % 20000 == 0) {
            if (in_tx)
                GDALDatasetCommitTransaction(ds);
            in_tx = GDALDatasetStartTransaction(ds, FALSE) == OGRERR_NONE;
            if ((status = fc_progress(ctx, (double)i / (double)n_firms, "writing firms")) != FC_OK)
                break;
        }
        firm f;
        make_firm(m, &r, &f);
        plant_related(m, seed, i, &f);
        char name[96];
        snprintf(name, sizeof name, "ЖШС «%s-%zu»", cities[f.city].name_kk, i + 1);
        OGR_F_SetFID(feat, OGRNullFID);
        OGR_F_SetFieldInteger64(feat, 0, (GIntBig)(i + 1));
        OGR_F_SetFieldString(feat, 1, name);
        OGR_F_SetFieldString(feat, 2, f.oked);
        OGR_F_SetFieldInteger(feat, 3, f.employees);
        OGR_F_SetFieldString(feat, 4, cities[f.city].name_kk);
        OGRGeometryH pt = OGR_G_CreateGeometry(wkbPoint);
        OGR_G_SetPoint_2D(pt, 0, f.lon, f.lat);
        OGR_F_SetGeometryDirectly(feat, pt);
        if (OGR_L_CreateFeature(l, feat) != OGRERR_NONE)
            status = fc_error_gdal(ctx, FC_EIO, "%s: cannot write firm %zu", GDALGetDescription(ds), i + 1);
        else
            status = fc_rtree_add(ctx, index, OGR_F_GetFID(feat), OGR_F_GetGeometryRef(feat));
    }
    if (in_tx && status == FC_OK && GDALDatasetCommitTransaction(ds) != OGRERR_NONE)
        status = fc_error_gdal(ctx, FC_EIO, "%s: cannot commit", GDALGetDescription(ds));
    if (status == FC_OK)
        status = fc_rtree_end(ctx, index);
    else
        fc_rtree_free(index);
    OGR_F_Destroy(feat);
    model_free_boundaries(m);
    free(m);
    return status;
}

/* ---- institutions ------------------------------------------------------ */

/* Universities, research institutes, technoparks and development agencies,
 * where Kazakhstan has them; those serving a sector sit in one of that
 * sector's districts of the city, the others near its centre. Synthetic:
 * the names are made up, the places are plausible, not real addresses. */
typedef struct institution_row {
    const char *city, *type, *oked; /* oked: the sector it serves, or NULL */
    int count;
} institution_row;

static const institution_row institution_rows[] = {
    {"Алматы", "university", NULL, 6},        {"Алматы", "university", "62011", 2},
    {"Алматы", "research", "62011", 2},       {"Алматы", "research", NULL, 2},
    {"Алматы", "technopark", "62011", 2},     {"Алматы", "agency", NULL, 1},
    {"Астана", "university", NULL, 4},        {"Астана", "university", "62011", 1},
    {"Астана", "research", NULL, 2},          {"Астана", "technopark", "62011", 1},
    {"Астана", "agency", NULL, 1},            {"Шымкент", "university", NULL, 2},
    {"Шымкент", "research", "13921", 1},      {"Шымкент", "technopark", "13921", 1},
    {"Шымкент", "agency", NULL, 1},           {"Қарағанды", "university", NULL, 2},
    {"Қарағанды", "research", "05100", 1},    {"Қарағанды", "technopark", NULL, 1},
    {"Қарағанды", "agency", NULL, 1},         {"Теміртау", "research", "24100", 1},
    {"Теміртау", "university", "24100", 1},   {"Атырау", "university", "06100", 1},
    {"Атырау", "research", "09100", 1},       {"Атырау", "agency", NULL, 1},
    {"Ақтау", "university", "09100", 1},      {"Ақтау", "research", "06100", 1},
    {"Ақтау", "agency", NULL, 1},             {"Ақтөбе", "university", NULL, 2},
    {"Ақтөбе", "agency", NULL, 1},            {"Павлодар", "university", NULL, 1},
    {"Павлодар", "research", "24420", 1},     {"Павлодар", "technopark", NULL, 1},
    {"Павлодар", "agency", NULL, 1},          {"Өскемен", "university", NULL, 1},
    {"Өскемен", "research", "24430", 1},      {"Өскемен", "technopark", NULL, 1},
    {"Өскемен", "agency", NULL, 1},           {"Семей", "university", NULL, 1},
    {"Тараз", "university", NULL, 1},         {"Тараз", "agency", NULL, 1},
    {"Қостанай", "university", "01110", 1},   {"Қостанай", "agency", NULL, 1},
    {"Қызылорда", "university", NULL, 1},     {"Қызылорда", "agency", NULL, 1},
    {"Орал", "university", NULL, 1},          {"Орал", "agency", NULL, 1},
    {"Петропавл", "university", NULL, 1},     {"Петропавл", "agency", NULL, 1},
    {"Көкшетау", "university", NULL, 1},      {"Көкшетау", "agency", NULL, 1},
    {"Талдықорған", "university", NULL, 1},   {"Талдықорған", "agency", NULL, 1},
    {"Түркістан", "university", NULL, 1},     {"Түркістан", "agency", NULL, 1},
    {"Жезқазған", "university", "24440", 1},  {"Жезқазған", "agency", NULL, 1},
    {"Қонаев", "agency", NULL, 1},
};

static const char *institution_title(const char *type)
{
    return strcmp(type, "university") == 0   ? "университеті"
           : strcmp(type, "research") == 0   ? "ғылыми-зерттеу институты"
           : strcmp(type, "technopark") == 0 ? "технопаркі"
                                             : "өңірлік даму агенттігі";
}

static int write_institutions(fc_context *ctx, GDALDatasetH ds, uint64_t seed)
{
    OGRSpatialReferenceH wgs84 = OSRNewSpatialReference(NULL);
    OSRImportFromEPSG(wgs84, 4326);
    OSRSetAxisMappingStrategy(wgs84, OAMS_TRADITIONAL_GIS_ORDER);
    OGRLayerH l = GDALDatasetCreateLayer(ds, "institutions", wgs84, wkbPoint, NULL);
    OSRRelease(wgs84);
    if (!l)
        return fc_error_gdal(ctx, FC_EIO, "%s: cannot create layer institutions",
                             GDALGetDescription(ds));
    const char *fields[] = {"name", "type", "serves", "city"};
    for (size_t i = 0; i < 4; i++) {
        OGRFieldDefnH fd = OGR_Fld_Create(fields[i], OFTString);
        OGRErr err = OGR_L_CreateField(l, fd, TRUE);
        OGR_Fld_Destroy(fd);
        if (err != OGRERR_NONE)
            return fc_error_gdal(ctx, FC_EIO, "cannot create field %s", fields[i]);
    }
    model *m = calloc(1, sizeof *m);
    if (!m)
        return fc_error(ctx, FC_ENOMEM, "out of memory");
    model_init(m, seed); /* the same districts as the firms of this seed */
    rng r;
    rng_seed(&r, seed ^ 0x1A57171ULL);
    int status = FC_OK, number = 0;
    for (size_t k = 0; k < sizeof institution_rows / sizeof institution_rows[0]; k++) {
        const institution_row *row = &institution_rows[k];
        const size_t c = city_index(row->city);
        for (int i = 0; i < row->count && status == FC_OK; i++) {
            double dx, dy, spread = row->oked ? 0.4 : 0.3 * city_radius_km(&cities[c]);
            if (row->oked) { /* in the first district of the sector it serves */
                const size_t s = sector_index(row->oked);
                dx = m->district_dx[s][c][0];
                dy = m->district_dy[s][c][0];
            } else {
                dx = dy = 0;
            }
            dx += spread * rng_normal(&r);
            dy += spread * rng_normal(&r);
            char name[160];
            snprintf(name, sizeof name, "%s %s №%d", row->city, institution_title(row->type),
                     i + 1);
            OGRFeatureH f = OGR_F_Create(OGR_L_GetLayerDefn(l));
            OGR_F_SetFieldString(f, 0, name);
            OGR_F_SetFieldString(f, 1, row->type);
            if (row->oked)
                OGR_F_SetFieldString(f, 2, row->oked);
            OGR_F_SetFieldString(f, 3, row->city);
            OGRGeometryH pt = OGR_G_CreateGeometry(wkbPoint);
            const double km_per_degree = 111.32 * cos(cities[c].lat * M_PI / 180.0);
            OGR_G_SetPoint_2D(pt, 0, cities[c].lon + dx / km_per_degree, cities[c].lat + dy / 111.32);
            OGR_F_SetGeometryDirectly(f, pt);
            if (OGR_L_CreateFeature(l, f) != OGRERR_NONE)
                status = fc_error_gdal(ctx, FC_EIO, "%s: cannot write institution %d",
                                       GDALGetDescription(ds), number + 1);
            number++;
            OGR_F_Destroy(f);
        }
    }
    free(m);
    return status;
}

/* What a synthetic layer is made of: the firms (n of them) or the
 * institutions. */
typedef struct synth_job {
    bool institutions;
    size_t n_firms;
    uint64_t seed;
} synth_job;

/* Writes a dataset under a temporary name and moves it into place, with
 * fixed timestamps so that the same seed gives the same bytes. */
static int synth_dataset(fc_context *ctx, const char *output, const char *format, int overwrite,
                         const synth_job *job)
{
    fc_output out;
    int status = fc_output_prepare(ctx, output, format, overwrite != 0, FC_OUT_DATASET, &out);
    if (status == FC_OK) {
        CPLSetThreadLocalConfigOption("OGR_CURRENT_DATE", "2000-01-01T00:00:00Z");
        GDALDatasetH ds = fc_output_create(ctx, &out, NULL);
        status = !ds                ? FC_EIO
                 : job->institutions ? write_institutions(ctx, ds, job->seed)
                                     : write_synth(ctx, ds, job->n_firms, job->seed);
        if (ds) {
            CPLErrorReset();
            GDALClose(ds);
            if (status == FC_OK && CPLGetLastErrorType() == CE_Failure)
                status = fc_error_gdal(ctx, FC_EIO, "%s: cannot finish writing", output);
        }
        CPLSetThreadLocalConfigOption("OGR_CURRENT_DATE", NULL);
        if (status == FC_OK)
            status = fc_output_commit(ctx, &out, overwrite != 0);
    }
    fc_output_abort(&out);
    return status;
}

int fc_synth_institutions(fc_context *ctx, const char *output, const char *format, uint64_t seed,
                          int overwrite)
{
    if (!ctx)
        return FC_EINVAL;
    if (!output)
        return fc_error(ctx, FC_EINVAL, "synth needs an output for the institutions");
    const synth_job job = {.institutions = true, .seed = seed};
    return synth_dataset(ctx, output, format, overwrite, &job);
}

int fc_synth(fc_context *ctx, const char *output, const char *format, size_t n_firms,
             uint64_t seed, int overwrite)
{
    if (!ctx)
        return FC_EINVAL;
    if (!output)
        return fc_error(ctx, FC_EINVAL, "synth needs an output");
    if (n_firms < 1 || n_firms > INT32_MAX)
        return fc_error(ctx, FC_EINVAL, "--firms must be between 1 and %d", INT32_MAX);
    fc_progress_stage(ctx, 0, 1, "writing firms");
    const synth_job job = {.n_firms = n_firms, .seed = seed};
    int status = synth_dataset(ctx, output, format, overwrite, &job);
    if (status == FC_OK && ctx->progress)
        ctx->progress(1.0, "done", ctx->progress_arg);
    return status;
}
