#!/bin/sh
# ft-train across two hosts: two network namespaces joined by a veth pair,
# one rank in each, Open MPI's TCP transport (and its out-of-band channel)
# restricted to that link, mpirun in host A starting rank 1 in host B
# through an rsh agent (`ip netns exec B ...`).  The result is bit-identical
# to 2 ranks on one host, and the link carried the gradients.  Needs root
# and network namespaces: otherwise SKIP (exit 77) with the reason.
. "$FT_TOP/tests/cli/lib.sh"
t_tmp
skip() { echo "SKIP: $*"; exit 77; }
command -v mpirun >/dev/null || skip "no mpirun (openmpi-bin)"
command -v ip >/dev/null || skip "no ip (iproute2)"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export ASAN_OPTIONS="${ASAN_OPTIONS:-}:detect_leaks=0"
NA=ft-a-$$ NB=ft-b-$$ VA=fta$$ VB=ftb$$
NET=10.213.$(($$ % 250)).0/24
IPA=10.213.$(($$ % 250)).1 IPB=10.213.$(($$ % 250)).2
cleanup() { ip netns del "$NA" 2>/dev/null; ip netns del "$NB" 2>/dev/null; rm -rf "$T"; }
ip netns add "$NA" 2>"$T/ns.err" ||
	skip "network namespaces not permitted here ($(head -n 1 "$T/ns.err"))"
trap cleanup EXIT
ip netns add "$NB" &&
	ip link add "$VA" type veth peer name "$VB" &&
	ip link set "$VA" netns "$NA" && ip link set "$VB" netns "$NB" &&
	ip -n "$NA" addr add "$IPA/24" dev "$VA" &&
	ip -n "$NB" addr add "$IPB/24" dev "$VB" &&
	ip -n "$NA" link set "$VA" up && ip -n "$NB" link set "$VB" up &&
	ip -n "$NA" link set lo up && ip -n "$NB" link set lo up ||
	skip "cannot make the veth pair"

# the rsh agent: "AGENT HOST COMMAND..." runs COMMAND in HOST's namespace
cat >"$T/agent" <<EOF
#!/bin/sh
h=\$1; shift
case \$h in $IPA) ns=$NA ;; $IPB) ns=$NB ;; *) echo "agent: no host \$h" >&2; exit 1 ;; esac
exec ip netns exec "\$ns" sh -c "\$*"
EOF
chmod +x "$T/agent"
printf '%s slots=1\n%s slots=1\n' "$IPA" "$IPB" >"$T/hosts"

E=$FIX/train/e2e
tool=$FT_BUILD/tests/test_tokfile
[ -x "$tool" ] || t_fail "no $tool (run through make check)"
"$tool" write "$T/train.tok" 50 49 <"$E/train.txt" || t_fail "tok"
"$tool" write "$T/val.tok" 50 49 <"$E/val.txt" || t_fail "tok"
A="-m $E --no-tokenizer --train $T/train.tok --val $T/val.tok --max-length 12 --dropout 0
--logging-steps 1 -j 1 -q --save-steps 0"
D=$(cat "$E/d1.args")
# shellcheck disable=SC2086
mpirun -np 2 --oversubscribe --bind-to none "$FT_BIN/ft-train" $A $D \
	-o "$T/local" || t_fail "mpirun on one host"
rx0=$(ip -n "$NA" -s -j link show "$VA" | python3 -c \
	'import json, sys; print(json.load(sys.stdin)[0]["stats64"]["rx"]["bytes"])')
# shellcheck disable=SC2086
ip netns exec "$NA" mpirun -np 2 --hostfile "$T/hosts" \
	--mca plm_rsh_agent "$T/agent" --mca btl tcp,self \
	--mca btl_tcp_if_include "$NET" --mca oob_tcp_if_include "$NET" \
	"$FT_BIN/ft-train" $A $D -o "$T/net" || t_fail "mpirun across the veth link"
rx=$(ip -n "$NA" -s -j link show "$VA" | python3 -c \
	'import json, sys; print(json.load(sys.stdin)[0]["stats64"]["rx"]["bytes"])')
python3 "$TOP/tests/cli/expect.py" "$E/d1.expect.jsonl" "$T/net/metrics.jsonl" ||
	t_fail "two hosts differ from tests/fixtures/train/e2e/d1.expect.jsonl"
t_cmp "$T/local/model.safetensors" "$T/net/model.safetensors"
# at least half of every step's gradient bytes (6 steps) came in
params=$(python3 -c 'import json, struct, sys
f = open(sys.argv[1], "rb"); n = struct.unpack("<Q", f.read(8))[0]
h = json.loads(f.read(n)); h.pop("__metadata__", None)
print(sum((v["data_offsets"][1] - v["data_offsets"][0]) // 4 for v in h.values()))' \
	"$T/net/model.safetensors")
min=$((6 * params * 4 / 2))
[ $((rx - rx0)) -ge $min ] ||
	t_fail "the link carried $((rx - rx0)) bytes, under the $min of the gradients"
echo "two hosts: $((rx - rx0)) bytes received over $VA ($params parameters)"
