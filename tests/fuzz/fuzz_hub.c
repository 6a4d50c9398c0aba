/* libFuzzer target for lib/hub's parsers of server data: the /rows copier
 * (on JSON that cJSON accepts, as ft-fetch uses it), the etag normaliser
 * and the file name / repo id checks. */
#include "hub.h"

#include <cJSON.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1), *e;
	cJSON *doc;
	long long n;
	FILE *null = fopen("/dev/null", "w");

	memcpy(s, data, size);
	s[size] = '\0';
	doc = cJSON_ParseWithLength(s, size);
	if (doc != NULL) {
		ft_hub_rows_write(s, size, null, &n);
		cJSON_Delete(doc);
	}
	e = ft_hub_etag_normalize(s);
	(void)ft_hub_etag_safe(e);
	free(e);
	(void)ft_hub_path_safe(s);
	(void)ft_hub_repo_valid(s);
	(void)ft_hub_is_commit(s);
	fclose(null);
	free(s);
	return 0;
}
