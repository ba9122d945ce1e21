#!/bin/busybox sh
# /init of the SCMI-over-OP-TEE test initramfs (tests/tz/test_scmi_optee.py):
# report what the optee and SCMI drivers did, read clocks and sensors,
# send raw SCMI messages, then power off through PSCI (exit code 80).
# Every result line starts with "SCMITEST: ".
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null
p() { echo "SCMITEST: $*"; }
p "userspace up"
dmesg | grep -iE 'optee|scmi|tee|hwmon|deferred' | sed 's/^/SCMITEST: dmesg: /'

# Devices still waiting for a supplier (the SCMI transport without its
# TEE device) are listed here, not in the kernel log.
[ -r /sys/kernel/debug/devices_deferred ] &&
	sed 's/^/SCMITEST: deferred /' /sys/kernel/debug/devices_deferred
for d in /sys/bus/tee/devices/*; do
	[ -e "$d" ] && p "teebus ${d##*/}"
done

# The SCMI core's version attributes (platform device "arm-scmi.*").
for f in $(find /sys/devices -name vendor_id 2>/dev/null); do
	d=${f%/vendor_id}
	for a in vendor_id sub_vendor_id firmware_version protocol_version; do
		p "scmi_sysfs $a=$(cat "$d/$a")"
	done
done
dbg=/sys/kernel/debug/scmi/0
if [ -d $dbg ]; then
	p "scmi_debugfs instance_name=$(cat $dbg/instance_name)"
	p "scmi_debugfs transport=$(cat $dbg/transport/type)"
fi

[ -r /sys/kernel/debug/clk/clk_summary ] &&
	sed 's/^/SCMITEST: clk_summary: /' /sys/kernel/debug/clk/clk_summary
for c in /sys/kernel/debug/clk/*/clk_rate; do
	[ -e "$c" ] || continue
	n=${c%/clk_rate}
	p "clk ${n##*/} rate=$(cat "$c")"
done

# hwmon: three readings per input, label first.
for h in /sys/class/hwmon/hwmon*; do
	[ -e "$h/name" ] || continue
	name=$(cat "$h/name")
	for i in "$h"/temp*_input "$h"/in*_input; do
		[ -e "$i" ] || continue
		base=${i%_input}
		label=$(cat "${base}_label" 2>/dev/null)
		v="$(cat "$i") $(cat "$i") $(cat "$i")"
		p "hwmon $name ${base##*/} $label $v"
	done
done

# Raw SCMI: one message (header + payload, little-endian hex bytes) per
# write; the reply (header, status, data) is read back from the same file.
raw() {
	name=$1
	shift
	out=""
	for b in "$@"; do
		out="$out\\$(printf %03o "0x$b")"
	done
	printf "$out" >/tmp/msg
	if ! dd if=/tmp/msg of=$dbg/raw/message bs=256 2>/dev/null; then
		p "raw $name write-failed"
		return
	fi
	r=$(dd if=$dbg/raw/message bs=256 count=1 2>/dev/null | od -An -tx1 | tr -s ' \n' ' ')
	p "raw $name$r"
}
if [ -e $dbg/raw/message ]; then
	# header = token << 18 | protocol << 10 | message id
	raw base_version 00 40 04 00
	raw base_vendor 03 40 08 00
	raw base_list 06 40 0c 00 00 00 00 00
	raw gpu_rate_set 05 50 10 00 00 00 00 00 02 00 00 00 80 36 be 26 00 00 00 00
	raw gpu_rate_get 06 50 14 00 02 00 00 00
	raw gpu_config_set 07 50 18 00 02 00 00 00 01 00 00 00 00 00 00 00
	raw gpu_config_get 0b 50 1c 00 02 00 00 00 00 00 00 00
	raw ddr_thermal_read 06 54 20 00 01 00 00 00 00 00 00 00
	raw bad_message 3f 40 24 00
	raw cpu_rate_set 05 50 28 00 00 00 00 00 00 00 00 00 00 ca 9a 3b 00 00 00 00
	raw cpu_rate_get 06 50 2c 00 00 00 00 00
	raw gpu_pd_get 05 44 30 00 00 00 00 00
	raw gpu_pd_on 04 44 34 00 00 00 00 00 00 00 00 00 00 00 00 00
	raw gpu_pd_get_again 05 44 38 00 00 00 00 00
fi

echo hello >/tmp/shell && p "shell ok $(cat /tmp/shell)"
p "done"
poweroff -f
