"""Reference data is found from an installed wheel, not only from a checkout."""
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_reference_data_ships_in_the_wheel(tmp_path):
    wheels, site = tmp_path / "wheels", tmp_path / "site"
    build = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(wheels), str(ROOT)],
                           capture_output=True, text=True)
    assert build.returncode == 0, build.stderr[-2000:]
    [wheel] = wheels.glob("auditor-*.whl")
    install = subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(site), str(wheel)],
                             capture_output=True, text=True)
    assert install.returncode == 0, install.stderr[-2000:]
    probe = (
        "import auditor, auditor.reference as r\n"
        "from auditor.rules import load_registry\n"
        "from auditor.nlp import load_pipeline, extract_claims\n"
        "from auditor.page import Page\n"
        "print(auditor.__file__)\n"
        "print(r.root())\n"
        "print(len(load_registry().active()))\n"
        "claims = extract_claims(load_pipeline(), Page(id='p', text='Recovery takes 4 to 6 weeks.'))\n"
        "print(claims[0].text)\n"
    )
    # run outside the checkout, with only the installed copy importable
    env = {"PYTHONPATH": str(site), "PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, "-I", "-c", f"import sys; sys.path.insert(0, {str(site)!r})\n" + probe],
                         capture_output=True, text=True, cwd=tmp_path, env=env)
    assert out.returncode == 0, out.stderr[-2000:]
    module, data_root, rules, claim = out.stdout.strip().splitlines()
    assert module.startswith(str(site)) and data_root.startswith(str(site))
    assert int(rules) > 10 and claim == "4 to 6 weeks"
    for folder in ("rules", "lexicons", "patterns", "taxonomy", "values"):
        assert (Path(data_root) / folder).is_dir(), folder
