#!/usr/bin/env bash
# slipway pipeline bootstrap over 10,000 generated projects: the seed script
# for all of them, timed twice with its peak memory, checked byte for byte,
# then compiled by groovy and run under stubs of the Job DSL that count the
# folders and jobs it makes.
#   bench/bootstrap.sh [PROJECTS]     (default 10000; goal: under 1 s and 200 MB, byte-stable)
source "$(dirname "$0")/lib.sh"
n=${1:-10000}
work=$(mktemp -d /tmp/slipway-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT
need_slipway
# Every third project has a branch and a directory, every other one a credential.
awk -v n="$n" 'BEGIN {
  print "projects:"
  for (i = 1; i <= n; i++) {
    extra = ""
    if (i % 3 == 0) extra = extra ", branch: trunk, dir: services/app"
    if (i % 2 == 0) extra = extra ", credentials: git-token"
    printf "  - {name: project-%d, repo: \"https://git.example.com/team/project-%d.git\"%s}\n", i, i, extra
  }
}' >"$work/projects.yaml"

# run I: the seed into seedI.groovy; elapsed seconds and peak RSS (KB) into timeI.
run() {
  /usr/bin/time -f '%e %M' -o "$work/time$1" \
    slipway pipeline bootstrap --projects "$work/projects.yaml" >"$work/seed$1.groovy"
}
run 1; run 2
read -r s1 kb1 <"$work/time1"; read -r s2 kb2 <"$work/time2"
stable=no; cmp -s "$work/seed1.groovy" "$work/seed2.groovy" && stable=yes
mb=$(( (kb1 > kb2 ? kb1 : kb2) / 1024 ))
fast=no; awk -v a="$s1" -v b="$s2" 'BEGIN { exit !(a < 1 && b < 1) }' && fast=yes
small=no; [ "$mb" -lt 200 ] && small=yes

printf '\npipeline bootstrap of %d projects (%s KB of Job DSL)\n' "$n" "$(( $(wc -c <"$work/seed1.groovy") / 1024 ))"
printf '  first run                %7.3f s   (goal < 1.000: %s)\n' "$s1" "$fast"
printf '  second run               %7.3f s\n' "$s2"
printf '  peak memory              %7d MB  (goal < 200: %s)\n' "$mb" "$small"
printf '  byte-stable              %7s\n' "$stable"

if ! command -v groovy >/dev/null; then
  echo "  groovy                   not installed (make deps); the seed was not compiled"
  exit 0
fi
if [ ! -x "${JAVA_HOME:-/nonexistent}/bin/java" ] && command -v java >/dev/null; then
  JAVA_HOME=$(dirname "$(dirname "$(readlink -f "$(command -v java)")")"); export JAVA_HOME
fi
# Compile the seed as Job DSL does (a Script with the DSL's methods), run it
# with each DSL method recording its item, and count them.
cat >"$work/check.groovy" <<'GROOVY'
import org.codehaus.groovy.control.CompilerConfiguration
abstract class JobDsl extends Script {
    Map<String, Integer> made = [:]
    def methodMissing(String name, Object args) {
        Object[] a = (Object[]) args
        if (name in ['folder', 'pipelineJob']) {
            made[name] = (made[name] ?: 0) + 1
        }
        if (a.length > 0 && a[a.length - 1] instanceof Closure) {
            Closure c = (Closure) a[a.length - 1]
            c.delegate = this
            c.resolveStrategy = Closure.DELEGATE_FIRST
            c.call()
        }
        return null
    }
}
def config = new CompilerConfiguration()
config.scriptBaseClass = JobDsl.name
long t0 = System.nanoTime()
Script seed = new GroovyShell(this.class.classLoader, new Binding(), config).parse(new File(args[0]).getText('UTF-8'), 'seed')
long t1 = System.nanoTime()
seed.run()
long t2 = System.nanoTime()
printf('%.3f %.3f %d %d%n', (t1 - t0) / 1e9, (t2 - t1) / 1e9, seed.made.folder ?: 0, seed.made.pipelineJob ?: 0)
GROOVY
if out=$(groovy "$work/check.groovy" "$work/seed1.groovy" 2>"$work/groovy.err"); then
  read -r compile_s run_s folders jobs <<<"$out"
  ok=no; [ "$folders" = "$n" ] && [ "$jobs" = "$n" ] && ok=yes
  printf '  groovy compile           %7.3f s   (%s)\n' "$compile_s" "$(groovy --version 2>/dev/null | head -1 | cut -d' ' -f1-3)"
  printf '  run under Job DSL stubs  %7.3f s   %d folders, %d jobs (one each: %s)\n' "$run_s" "$folders" "$jobs" "$ok"
else
  echo "  groovy compile           FAILED"
  head -20 "$work/groovy.err"
  exit 1
fi
