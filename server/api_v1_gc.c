/* /api/v1/gc: garbage collection for administrators: the run in progress, the settings and
 * the last runs (GET), and starting a run now (POST). */
#include "server/api_v1.h"
#include "server/gc.h"
#include "server/registry.h"

#define API_V1_GC_RUNS_DEFAULT 20
#define API_V1_GC_RUNS_MAX     100

static json_t *api_v1_gc_counts(const struct meta_gc_run *run)
{
	return json_pack("{s:s,s:b,s:I,s:I,s:I,s:I,s:I}", "trigger", run->trigger, "dry_run", run->dry_run,
	                 "manifests_deleted", (json_int_t)run->manifests_deleted, "blobs_deleted",
	                 (json_int_t)run->blobs_deleted, "bytes_freed", (json_int_t)run->bytes_freed, "files_removed",
	                 (json_int_t)run->files_removed, "uploads_expired", (json_int_t)run->uploads_expired);
}

static int api_v1_gc_add(void *ctx, const struct meta_gc_run *run)
{
	json_t *o = api_v1_gc_counts(run);
	json_object_set_new(o, "id", json_integer(run->id));
	json_object_set_new(o, "started_at", json_integer(run->started_at));
	json_object_set_new(o, "finished_at", json_integer(run->finished_at));
	json_object_set_new(o, "error", run->error[0] ? api_v1_string(run->error) : json_null());
	json_array_append_new(ctx, o);
	return 0;
}

/* GET /api/v1/gc?limit=N */
static void api_v1_gc_get(struct req *r)
{
	int64_t limit;
	if (api_v1_query_int(r, "limit", API_V1_GC_RUNS_DEFAULT, 1, API_V1_GC_RUNS_MAX, &limit) < 0)
		return;
	json_t *runs = json_array();
	if (meta_gc_runs(r->meta, limit, api_v1_gc_add, runs, &r->err) < 0) {
		json_decref(runs);
		api_v1_fail(r);
		return;
	}
	struct gc_status st;
	gc_status_get(&st);
	json_t *current = json_null();
	if (st.running) {
		current = api_v1_gc_counts(&st.run);
		json_object_set_new(current, "phase", json_string(st.phase ? st.phase : "starting"));
		json_object_set_new(current, "started_at", api_v1_time(st.run.started_at));
	}
	const struct config *cfg = r->reg->cfg;
	json_t *settings = json_pack("{s:i,s:i,s:b,s:i}", "interval", cfg->gc_interval, "grace", cfg->gc_grace,
	                             "untagged", cfg->gc_untagged, "upload_expiry", cfg->upload_expiry);
	api_v1_respond(r, 200,
	               json_pack("{s:b,s:o,s:o,s:o}", "running", st.running, "current", current, "settings", settings,
	                         "runs", runs));
}

/* POST /api/v1/gc {"dry_run": false}: 202 when started, 409 when one is running. */
static void api_v1_gc_post(struct req *r, struct api_v1 *c)
{
	bool dry_run = false;
	if (api_v1_field_bool(r, c, "dry_run", &dry_run) < 0)
		return;
	if (r->reg->cfg->read_only && !dry_run) {
		req_fail(r, BERR_UNSUPPORTED, "the registry is in read-only mode (a dry run is allowed)");
		return;
	}
	if (gc_request(dry_run, &r->err) < 0) {
		api_v1_fail(r);
		return;
	}
	api_v1_audit_log(r, "gc_start", "registry", json_pack("{s:b}", "dry_run", dry_run));
	api_v1_respond(r, 202, json_pack("{s:b,s:b}", "started", 1, "dry_run", dry_run));
}

void api_v1_gc(struct req *r, struct api_v1 *c)
{
	if (r->method != HTTP_GET && r->method != HTTP_POST) {
		api_v1_bad_method(r);
		return;
	}
	if (!api_v1_require_admin(r))
		return;
	if (r->method == HTTP_GET)
		api_v1_gc_get(r);
	else
		api_v1_gc_post(r, c);
}
