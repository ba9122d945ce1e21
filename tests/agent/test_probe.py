"""From the lab to the field (issue 11): probe, versions from the flash, anti-rollback from
the images, a version floor a wiped /var cannot reset, coexistence with capsules."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest
from cli_env import Env, error_lines, make_env, run
from oracle import power_on

from scm_fwupdate import capsule, history, imagegen
from scm_fwupdate.gpt import read_gpt_image

Q6A = "radxa-dragon-q6a"


@pytest.fixture
def q6a(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Env:
    e = make_env(tmp_path / "env", profile=Q6A)
    monkeypatch.setenv("SCM_FWUPDATE_CMDLINE", str(e.root / "cmdline"))
    (e.root / "esp").mkdir()
    (e.root / "efivars").mkdir()
    e.write_config(
        f"board:\n  profile: {Q6A}\n  esp: [{e.root / 'esp'}]\n  efivars: {e.root / 'efivars'}\n"
        + e.extra_config
    )
    return e


def probe(env: Env, capsys) -> dict:
    rc, out, err = run(env, capsys, "probe", "--json")
    assert rc == 0, err
    return json.loads(out)


def image(env: Env, name: str, version: int = 2, **kw: object) -> bytes:
    table = env.gpt()
    p = table.find(name if name in table.names() else f"{name}_a")
    return imagegen.qcom_image(name, p.size, version, **kw)  # type: ignore[arg-type]


def factory_bits(env: Env) -> None:
    """A factory Qualcomm table: no A/B bits at all (qualcomm-boot-chain.md §1)."""
    table = env.gpt()
    zeroed = table.with_attributes({p.name: 0 for p in table.partitions})
    with open(env.nor, "r+b") as f:
        for copy in zeroed.copies():
            for off, data in copy:
                f.seek(off)
                f.write(data)


def test_probe_reports_every_copy_and_reads_a_factory_table_as_boot_sets(q6a: Env, capsys) -> None:
    factory_bits(q6a)
    before = q6a.image()
    info = probe(q6a, capsys)
    assert info["gpt"]["primary"]["ok"] and info["gpt"]["backup"]["ok"]
    assert set(info["gpt"]["primary"]["ab_bits"]) >= {"dtb_a", "dtb_b"}
    tz = info["images"]["TZ"]
    assert (tz["a"]["partition"], tz["b"]["partition"]) == ("TZ", "TZ_BACKUP")
    assert tz["a"]["valid"] and tz["a"]["sw_id"] == 7 and tz["a"]["anti_rollback"] == 0
    assert tz["a"]["release"] == "REL-1" and tz["a"]["strings"]["QC_IMAGE_VERSION_STRING"] == "TZ.1"
    assert info["recoveryinfo"]["erased"] and info["recoveryinfo"]["record"] is None
    assert info["rule"]["rule"] == "sets" and "no ABL" in " ".join(info["rule"]["reasons"])
    assert info["uefi"]["capsule_staged"] is False
    assert q6a.image() == before  # read-only
    rc, text, _ = run(q6a, capsys, "probe")
    assert rc == 0 and "boot rule:   sets" in text and "TZ_BACKUP" in text


def test_probe_with_abl_evidence_and_a_slot_on_the_command_line(q6a: Env, capsys) -> None:
    (q6a.root / "cmdline").write_text("console=ttyMSM0 androidboot.slot_suffix=_a\n")
    assert probe(q6a, capsys)["rule"]["rule"] == "ab-attributes"


def test_probe_after_a_fallback_reads_the_recoveryinfo_record(q6a: Env, capsys) -> None:
    factory_bits(q6a)
    nor = bytearray(q6a.image())
    tz = read_gpt_image(bytes(nor)).find("TZ")
    nor[tz.offset + 0x3000] ^= 1  # set A fails its digests
    assert power_on(nor, "sets").set == "B"  # the chain (oracle) writes its record
    q6a.nor.write_bytes(bytes(nor))
    info = probe(q6a, capsys)
    assert info["recoveryinfo"]["record"]["failed_a"] is True
    assert info["images"]["TZ"]["a"]["valid"] is False
    assert "digest" in info["images"]["TZ"]["a"]["error"]
    assert info["rule"]["rule"] == "sets"
    assert any("recoveryinfo" in r for r in info["rule"]["reasons"])


def test_status_shows_what_the_nor_holds_not_the_history(q6a: Env, capsys) -> None:
    images = {n: image(q6a, n, 2, release="REL-1") for n in ("TZ", "UEFI")}
    assert run(q6a, capsys, "install", str(q6a.bundle(images, version="2")))[0] == 0
    st = json.loads(run(q6a, capsys, "status", "--json")[1])
    assert st["images"]["TZ"]["a"]["version"] == st["images"]["TZ"]["b"]["version"] == "TZ.2"
    assert st["images"]["HYP"]["a"]["version"] == "HYP.1"
    # The history is the record of what was done; the NOR is what is there.
    q6a.nor.write_bytes(imagegen.build().image)
    st = json.loads(run(q6a, capsys, "status", "--json")[1])
    assert st["installed"]["version"] == "2" and st["images"]["TZ"]["a"]["version"] == "TZ.1"


def state_files(env: Env) -> dict[str, bytes]:
    """Journal, history, staged bundle, inbox: what 'nothing written' covers besides the NOR."""
    if not env.state.exists():
        return {}
    return {str(p): p.read_bytes() for p in sorted(env.state.rglob("*")) if p.is_file()}


def refused(env: Env, capsys, argv: list[str], code: int, needle: str) -> None:
    before, files = hashlib.sha256(env.image()).digest(), state_files(env)
    rc, _out, err = run(env, capsys, *argv)
    lines = error_lines(err)
    assert rc == code and len(lines) == 1 and needle in lines[0], err
    assert hashlib.sha256(env.image()).digest() == before
    assert state_files(env) == files


def test_status_says_which_set_booted_only_when_the_chain_or_recoveryinfo_does(
    q6a: Env, capsys
) -> None:
    """A real Q6A gives no boot report: 'unknown', not a guess from the flash (issue 11, 2)."""
    st = json.loads(run(q6a, capsys, "status", "--json")[1])
    assert st["booted_set"] == {"set": None, "source": "unknown"}
    assert st["images"]["TZ"]["a"]["booted"] is None
    assert "booted:     unknown" in run(q6a, capsys, "status")[1]
    factory_bits(q6a)
    nor = bytearray(q6a.image())
    tz = read_gpt_image(bytes(nor)).find("TZ")
    nor[tz.offset + 0x3000] ^= 1  # set A fails; the chain (oracle) records it and boots B
    assert power_on(nor, "sets").set == "B"
    q6a.nor.write_bytes(bytes(nor))
    st = json.loads(run(q6a, capsys, "status", "--json")[1])
    assert st["booted_set"] == {"set": "B", "source": "recoveryinfo"}
    tz_copies = st["images"]["TZ"]
    assert tz_copies["b"]["booted"] is True and tz_copies["a"]["booted"] is False
    text = run(q6a, capsys, "status")[1]
    assert "booted:     set B (recoveryinfo" in text
    assert any("TZ_BACKUP" in line and "[booted]" in line for line in text.splitlines())


def test_probe_of_a_default_nor_reports_every_field(q6a: Env, capsys) -> None:
    (q6a.root / "cmdline").write_text("console=ttyMSM0 root=/dev/sda1\n")
    info = probe(q6a, capsys)
    assert info["geometry"]["size"] == len(q6a.image()) and info["geometry"]["erasesize"] == 4096
    assert info["cmdline"] == "console=ttyMSM0 root=/dev/sda1"
    for name, pair in info["images"].items():
        for side in ("a", "b"):
            c = pair[side]
            assert c["valid"] and c["hash_version"] == 6, (name, c)
            assert c["strings"]["QC_IMAGE_VERSION_STRING"] == f"{name}.1"
    assert info["uefi"]["OsIndications"] is None and info["uefi"]["capsules"] == []
    # imagegen sets A/B bits on dtb_a (an ABL-style table): evidence for neither rule alone
    assert info["rule"]["rule"] in ("sets", "ab-attributes", "unknown")
    assert info["rule"]["reasons"]


def test_probe_after_an_update_reports_the_new_copies(q6a: Env, capsys) -> None:
    images = {n: image(q6a, n, 2, release="REL-1") for n in ("TZ", "UEFI")}
    assert run(q6a, capsys, "install", str(q6a.bundle(images, version="2")))[0] == 0
    info = probe(q6a, capsys)
    for name in ("TZ", "UEFI"):
        for side in ("a", "b"):
            assert info["images"][name][side]["strings"]["QC_IMAGE_VERSION_STRING"] == f"{name}.2"
    assert info["images"]["HYP"]["a"]["strings"]["QC_IMAGE_VERSION_STRING"] == "HYP.1"
    text = run(q6a, capsys, "probe")[1]
    assert "TZ.2" in text and "UEFI.2" in text


def test_an_image_below_the_running_anti_rollback_version_is_refused(q6a: Env, capsys) -> None:
    new = {"TZ": image(q6a, "TZ", 2, arb=3)}
    assert run(q6a, capsys, "install", str(q6a.bundle(new, version="2")))[0] == 0
    old = {"TZ": image(q6a, "TZ", 3, arb=2)}
    argv = ["install", "--allow-downgrade", str(q6a.bundle(old, version="3", name="low.bundle"))]
    refused(q6a, capsys, argv, 12, "anti-rollback version 2, below the running copy's 3")


def test_an_image_with_another_partitions_software_id_is_refused(q6a: Env, capsys) -> None:
    tz_in_hyp = {"HYP": imagegen.qcom_image("HYP", q6a.gpt().find("HYP").size, 2, sw_id=7)}
    refused(q6a, capsys, ["install", str(q6a.bundle(tz_in_hyp))], 12, "software id 0x7")


def test_min_version_holds_when_the_state_directory_is_wiped(q6a: Env, capsys) -> None:
    config = q6a.config.read_text()
    new = q6a.bundle({"TZ": image(q6a, "TZ", 2)}, version="2026.11")
    assert run(q6a, capsys, "install", str(new))[0] == 0
    shutil.rmtree(q6a.state)  # /var wiped: no history floor any more
    q6a.config.write_text(config + "min_version: '2026.10'\n")  # the read-only /etc floor
    old = q6a.bundle({"TZ": image(q6a, "TZ", 3)}, version="2026.9", name="old.bundle")
    refused(q6a, capsys, ["install", "--allow-downgrade", str(old)], 5, "below min_version")
    ok = q6a.bundle({"TZ": image(q6a, "TZ", 4)}, version="2026.10", name="floor.bundle")
    assert run(q6a, capsys, "install", "--allow-downgrade", str(ok))[0] == 0


@pytest.mark.parametrize("how", ["file", "os-indications"])
def test_a_staged_capsule_stops_every_writing_command(q6a: Env, capsys, how: str) -> None:
    if how == "file":
        (q6a.root / "esp/EFI/UpdateCapsule").mkdir(parents=True)
        (q6a.root / "esp/EFI/UpdateCapsule/fw.cap").write_bytes(b"capsule")
    else:
        name = capsule.OS_INDICATIONS
        (q6a.root / "efivars" / name).write_bytes(
            capsule.efivar_bytes(capsule.FILE_CAPSULE_DELIVERY)
        )
    bundle = q6a.bundle({"TZ": image(q6a, "TZ")})
    inbox = q6a.state / "inbox"
    inbox.mkdir(parents=True)
    (inbox / "waiting.bundle").write_bytes(bundle.read_bytes())
    writing = [["install", str(bundle)], ["resume"], ["mark-good"], ["install-inbox"]]
    writing += [["mark-bad", "a"], ["activate", "b"]]
    for argv in writing:
        refused(q6a, capsys, argv, 14, "UEFI writes the boot firmware")
    assert (inbox / "waiting.bundle").exists()  # the inbox keeps it for later
    st = json.loads(run(q6a, capsys, "status", "--json")[1])
    assert st["capsule"]["staged"]
    assert probe(q6a, capsys)["uefi"]["capsule_staged"]
    assert "CAPSULE" in run(q6a, capsys, "status")[1]


def test_trial_boot_status_is_decoded(q6a: Env, capsys) -> None:
    value = 0x1 | 3 << 8 | 1 << 12 | 1 << 16
    (q6a.root / "efivars" / capsule.OS_TRIAL_BOOT_STATUS).write_bytes(capsule.efivar_bytes(value))
    trial = probe(q6a, capsys)["uefi"]["trial_boot"]
    assert trial == {"version": 1, "max_count": 3, "count": 1, "enabled": 1}


def test_the_inbox_skips_what_the_nor_holds_and_installs_what_it_does_not(q6a: Env, capsys) -> None:
    inbox = q6a.state / "inbox"
    inbox.mkdir(parents=True)
    bundle = q6a.bundle({"TZ": image(q6a, "TZ", release="REL-1")}, version="2")
    (inbox / "a.bundle").write_bytes(bundle.read_bytes())
    assert run(q6a, capsys, "install-inbox")[0] == 0

    def installs():
        return sum(r["operation"] == "install" for r in history.read(q6a.state / "history.jsonl"))

    assert installs() == 1
    (inbox / "a.bundle").write_bytes(bundle.read_bytes())  # the NOR holds it: skipped
    assert run(q6a, capsys, "install-inbox")[0] == 0 and installs() == 1
    q6a.nor.write_bytes(imagegen.build().image)  # the history says 2, the NOR holds 1
    (inbox / "a.bundle").write_bytes(bundle.read_bytes())
    assert run(q6a, capsys, "install-inbox")[0] == 0 and installs() == 2
