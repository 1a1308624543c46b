"""A web process loads no training pipeline, no TensorFlow and no tools: settings, admin autodiscovery, URLs, ASGI.

`lint-imports` checks the layering import by import; this checks what a real
start-up loads, in a fresh interpreter, since Django imports every app's
admin and models on its own.
"""

from __future__ import annotations

import json
import subprocess
import sys

from tests.live_server import REPO

# requirements-tools.txt: the runtime image installs neither; of the tools app, only its AppConfig loads.
TOOLS_ONLY = ("websockets", "requests")
HEAVY = (
    "tensorflow",
    "keras",
    "matplotlib",
    "training.pipeline",
    "training.data",
    "training.services",
    "training.job_run",
    "training.download",
)

PROBE = """
import json, os, sys
os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings"
import config.asgi  # django.setup(), admin autodiscovery on the first URL resolution below
from django.urls import reverse
reverse("admin:training_trainingjob_add"), reverse("admin:inference_modelversion_changelist")
print(json.dumps(sorted(sys.modules)))
"""


def test_a_web_process_starts_without_the_training_pipeline_or_tensorflow():
    done = subprocess.run([sys.executable, "-c", PROBE], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    loaded = json.loads(done.stdout.strip().splitlines()[-1])
    assert "training.admin" in loaded and "inference.admin" in loaded, "the probe reached admin autodiscovery"
    heavy = [name for name in loaded if name.split(".")[0] in HEAVY or name in HEAVY]
    assert heavy == [], heavy
    tools = [name for name in loaded if name.split(".")[0] in (*TOOLS_ONLY, "tools")]
    assert tools == ["tools", "tools.apps"], tools
