-- wrk script for the ranked list (bench/bench_list.py, docs/benchmarks.md): rotates list URLs
-- (sectors x offences x a few filters, first and last pages) and counts non-2xx answers.
-- Session cookie from the environment: SESSION=<key> wrk -s bench/wrk_lists.lua ...
local session = os.getenv("SESSION") or ""
local sectors = {"cleaning", "construction", "hospitality"}
local offences = {"bogus_self_employment", "part_time_abuse", "temporary_layoff_fraud", "undeclared_work"}
local filters = {"", "&region=BE2", "&subregion=BE242", "&band=1", "&size_class=2", "&legal_form=NV",
                 "&not_inspected=12", "&region=BE3&band=1&band=2", "&q=0878", "&q=Peeters", "&q=jacobs&region=BE2"}
local paths = {}
for _, s in ipairs(sectors) do
  for _, o in ipairs(offences) do
    for _, f in ipairs(filters) do
      table.insert(paths, "/lists/?sector=" .. s .. "&offence=" .. o .. f)
      table.insert(paths, "/lists/?sector=" .. s .. "&offence=" .. o .. f .. "&page=last")
    end
  end
end
local counter = 0
request = function()
  counter = counter + 1
  return wrk.format("GET", paths[(counter % #paths) + 1], {["Cookie"] = "sessionid=" .. session})
end
local bad = 0
response = function(status, headers, body)
  if status < 200 or status > 299 then bad = bad + 1 end
end
done = function(summary, latency, requests)
  io.write(string.format("URLs rotated: %d; non-2xx (wrk's own count): %d\n", #paths, summary.errors.status))
  for _, p in ipairs({50, 90, 95, 99}) do
    io.write(string.format("latency p%d: %.1f ms\n", p, latency:percentile(p) / 1000))
  end
end
