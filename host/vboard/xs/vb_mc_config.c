/*
 * The "mc/config" module: on a device, mcconfig generates it from the
 * manifests' "config" and its command line; here it is the board's
 * --config JSON object (an empty one without it), frozen as the
 * generated module freezes its object. Only flat values are accepted, as
 * only flat ones can be set on mcconfig's command line.
 */
#include "xsmc.h"
#include "vb_host.h"

static const char *gConfig = "{}";

const char *vb_mc_config_set(const char *json)
{
	const char *problem = vb_json_check_flat_object(json);
	if (!problem)
		gConfig = json;   /* argv: lives as long as the board */
	return problem;
}

/* xs_vb_mc_config() -> the JSON text, for the module's JSON.parse */
void xs_vb_mc_config(xsMachine *the)
{
	xsmcSetString(xsResult, (char *)gConfig);
}
