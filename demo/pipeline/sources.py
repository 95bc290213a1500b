"""Two raw sources: a patient register (CSV, with contact details) and lab results (JSON lines).

Stands in for the nightly exports of a clinic's systems; built from scikit-learn's bundled
breast-cancer data, so nothing is downloaded.
"""

from __future__ import annotations

from common import TARGET, output_folder, paths
from sklearn.datasets import load_breast_cancer


def main() -> None:
    p = paths(output_folder())
    data = load_breast_cancer(as_frame=True)
    frame = data.frame.copy()
    frame.insert(0, "patient_id", [f"P{i:04d}" for i in range(len(frame))])
    frame[TARGET] = (frame.pop("target") == 0).astype(int)
    features = list(data.feature_names)
    register = frame[["patient_id", TARGET, *features[:10]]]
    register = register.assign(
        name=[f"Patient {i}" for i in range(len(frame))],
        email=[f"patient{i}@clinic.example" for i in range(len(frame))],
    )
    lab = frame[["patient_id", *features[10:]]]
    p["patients"].parent.mkdir(parents=True, exist_ok=True)
    register.to_csv(p["patients"], index=False, float_format="%.6g")
    lab.to_json(p["measurements"], orient="records", lines=True, double_precision=10)


if __name__ == "__main__":
    main()
