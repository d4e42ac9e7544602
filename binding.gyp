# The syscall addon of concierge/sys (plain C, N-API only). Built by build.mjs with node-gyp into
# build/Release/concierge_sys.node, which the single-executable binary carries as an asset.
{
  "targets": [
    {
      "target_name": "concierge_sys",
      "sources": ["concierge/sys/sys.c"],
      "cflags": ["-Wall", "-Wextra", "-Werror", "-O2"]
    }
  ]
}
