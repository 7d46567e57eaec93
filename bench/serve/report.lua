-- report.lua - wrk script: rotates request paths over a list of ids and
-- prints one JSON object with throughput, latency percentiles and errors
-- when the run ends (the bench driver parses the last line of stdout).
--   wrk -s report.lua URL -- PATH_TEMPLATE ID_FILE
-- PATH_TEMPLATE contains {id}; ID_FILE has one id per line.
local paths = {}
local n = 0
local counter = 0

function init(args)
  local template = args[1] or "/healthz"
  local file = args[2]
  if file then
    for line in io.lines(file) do
      n = n + 1
      paths[n] = template:gsub("{id}", line)
    end
  end
  if n == 0 then
    n = 1
    paths[1] = template
  end
end

function request()
  counter = counter + 1
  return wrk.format("GET", paths[(counter % n) + 1])
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"requests":%d,"duration_us":%d,"bytes":%d,"rps":%.1f,' ..
    '"lat_p50_ms":%.3f,"lat_p90_ms":%.3f,"lat_p99_ms":%.3f,"lat_max_ms":%.3f,' ..
    '"err_connect":%d,"err_read":%d,"err_write":%d,"err_status":%d,"err_timeout":%d}\n',
    summary.requests, summary.duration, summary.bytes,
    summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(90) / 1000,
    latency:percentile(99) / 1000, latency.max / 1000,
    e.connect, e.read, e.write, e.status, e.timeout))
end
