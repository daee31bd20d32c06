/*
 * The registry of meter families (kaifa/families.h). Adding a family is one
 * file in meters/ and one line here; the order is the order in which
 * positional layouts are tried, strictest first.
 */
#include "lists.h"

#include <strings.h>

static const km_family *const families[] = {
        &km_family_kaifa,
        &km_family_aidon,
        &km_family_kamstrup,
        &km_family_iskraemeco,
        &km_family_landis_gyr,
};

#define N_FAMILIES (sizeof(families) / sizeof(families[0]))

size_t km_family_count(void)
{
        return N_FAMILIES;
}

const km_family *km_family_get(size_t i)
{
        return i < N_FAMILIES ? families[i] : NULL;
}

const km_family *km_family_by_name(const char *name)
{
        if (!name)
                return NULL;
        for (size_t i = 0; i < N_FAMILIES; i++)
                if (strcasecmp(name, families[i]->name) == 0 || strcasecmp(name, families[i]->maker) == 0)
                        return families[i];
        return NULL;
}

const km_family *km_family_by_flag(const char *text, size_t len)
{
        if (len < 3)
                return NULL;
        for (size_t i = 0; i < N_FAMILIES; i++) {
                const char *flag = families[i]->flag_id;
                if (flag && text[0] == flag[0] && text[1] == flag[1] && text[2] == flag[2])
                        return families[i];
        }
        return NULL;
}
