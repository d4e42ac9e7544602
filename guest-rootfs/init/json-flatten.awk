# Flattens one JSON document into `path=value` lines (objects by key, arrays by index, joined with
# dots: `workloads.0.args.1=sh`), so the busybox stand-in init can read the instance spec. Strings are
# unescaped (\uXXXX is kept as written); a syntax error prints `json: <what> at byte <n>` and exits 1.
# Only for the stand-in: concierge validates the spec itself.
BEGIN { RS = "\001" }
{ text = text $0 }
END {
  n = length(text); pos = 1
  skip_ws()
  if (pos > n) fail("empty document")
  value("")
  skip_ws()
  if (pos <= n) fail("trailing characters")
}
function fail(what) { print "json: " what " at byte " pos > "/dev/stderr"; exit 1 }
function skip_ws(  c) {
  while (pos <= n) { c = substr(text, pos, 1); if (c != " " && c != "\t" && c != "\n" && c != "\r") break; pos++ }
}
function emit(path, v) { print (path == "" ? "." : path) "=" v }
function join(path, key) { return path == "" ? key : path "." key }
function value(path,  c, s) {
  skip_ws(); c = substr(text, pos, 1)
  if (c == "{") object(path)
  else if (c == "[") array(path)
  else if (c == "\"") emit(path, str())
  else if (match(substr(text, pos), /^(true|false|null|-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?)/)) {
    s = substr(text, pos, RLENGTH); pos += RLENGTH; emit(path, s)
  } else fail("unexpected character '" c "'")
}
function object(path,  key, first) {
  pos++; skip_ws(); first = 1
  if (substr(text, pos, 1) == "}") { pos++; emit(path, "{}"); return }
  while (1) {
    skip_ws()
    if (substr(text, pos, 1) != "\"") fail("expected a key")
    key = str(); skip_ws()
    if (substr(text, pos, 1) != ":") fail("expected ':'")
    pos++; value(join(path, key)); skip_ws()
    if (substr(text, pos, 1) == ",") { pos++; continue }
    if (substr(text, pos, 1) == "}") { pos++; return }
    fail("expected ',' or '}'")
  }
}
function array(path,  i) {
  pos++; skip_ws(); i = 0
  if (substr(text, pos, 1) == "]") { pos++; emit(path, "[]"); return }
  while (1) {
    value(join(path, i)); i++; skip_ws()
    if (substr(text, pos, 1) == ",") { pos++; continue }
    if (substr(text, pos, 1) == "]") { pos++; return }
    fail("expected ',' or ']'")
  }
}
function str(  out, c, e) {
  pos++; out = ""
  while (pos <= n) {
    c = substr(text, pos, 1)
    if (c == "\"") { pos++; return out }
    if (c == "\\") {
      e = substr(text, pos + 1, 1); pos += 2
      if (e == "n") out = out "\n"; else if (e == "t") out = out "\t"
      else if (e == "u") { out = out "\\u"; }
      else out = out e
      continue
    }
    out = out c; pos++
  }
  fail("unterminated string")
}
