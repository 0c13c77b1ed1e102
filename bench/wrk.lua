-- wrk script for the benchmark: optional Accept header (BENCH_ACCEPT), and one JSON line
-- with throughput, latency percentiles and every kind of error at the end.
local accept = os.getenv("BENCH_ACCEPT")
if accept and accept ~= "" then
	wrk.headers["Accept"] = accept
end

function done(summary, latency, requests)
	local e = summary.errors
	local secs = summary.duration / 1e6
	io.write(string.format(
		'WRKJSON {"requests":%d,"seconds":%.3f,"rps":%.1f,"bytes":%d,"p50_ms":%.3f,"p90_ms":%.3f,' ..
		'"p99_ms":%.3f,"max_ms":%.3f,"mean_ms":%.3f,"errors":%d,"err_connect":%d,"err_read":%d,' ..
		'"err_write":%d,"err_timeout":%d,"non2xx":%d}\n',
		summary.requests, secs, summary.requests / secs, summary.bytes,
		latency:percentile(50) / 1e3, latency:percentile(90) / 1e3, latency:percentile(99) / 1e3,
		latency.max / 1e3, latency.mean / 1e3,
		e.connect + e.read + e.write + e.timeout + e.status,
		e.connect, e.read, e.write, e.timeout, e.status))
end
