//! The scikit-learn example, `pipelines/sklearn/sklearn.wharf`, end to end
//! in containers on the real engine: its image is built from the example's
//! folder, a model is trained by a script written for SageMaker, evaluated,
//! and served; the test asks the endpoint for predictions, then stops it.

mod common;
use common::docker::{self, BUSYBOX, PYTHON};
use common::*;
use serde_json::Value;

struct Cleanup {
    dir: tempfile::TempDir,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        let _ = wharf_in(self.dir.path())
            .args(["endpoints", "stop", "sklearn-serve"])
            .output();
        let (_, images) = docker::docker(&["images", "-q", "--filter", "label=wharf.pipeline=sklearn"]);
        for id in images.lines() {
            let _ = docker::docker(&["rmi", "-f", id]);
        }
    }
}

#[test]
fn the_sklearn_example_trains_evaluates_and_serves_in_containers() {
    if !docker::ready(&[BUSYBOX, PYTHON]) {
        return;
    }
    let guard = Cleanup {
        dir: tempfile::tempdir().unwrap(),
    };
    let dir = guard.dir.path();
    let file = root().join("pipelines/sklearn/sklearn.wharf");
    let out = wharf_in(dir)
        .args(["run", file.to_str().unwrap()])
        .output()
        .expect("wharf runs");
    assert!(out.status.success(), "{}", stderr_of(&out));
    let err = stderr_of(&out);
    assert!(err.contains("fit | train_accuracy="), "the training log streams: {err}");

    let show = wharf_in(dir)
        .args(["show", "last", "--format", "json"])
        .output()
        .unwrap();
    let show: Value = serde_json::from_slice(&show.stdout).unwrap();
    let artifact = |step: &str, output: &str| output_dir(dir, step, output);
    assert!(
        artifact("fit", "model").join("model.pkl").is_file(),
        "train wrote /opt/ml/model"
    );
    let metrics: Value =
        serde_json::from_str(&std::fs::read_to_string(artifact("evaluate", "metrics").join("metrics.json")).unwrap())
            .unwrap();
    let auc = metrics["auc"].as_f64().unwrap();
    assert!(auc >= 0.8, "a real model: auc {auc}");
    assert_eq!(
        show["steps"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["step"] == "serve")
            .unwrap()["status"],
        "succeeded",
        "deployed because auc >= min_auc"
    );

    let endpoint: Value =
        serde_json::from_str(&std::fs::read_to_string(artifact("serve", "endpoint").join("endpoint.json")).unwrap())
            .unwrap();
    let port: u16 = endpoint["url"]
        .as_str()
        .unwrap()
        .rsplit(':')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let (status, body) = http(
        port,
        "POST",
        "/invocations",
        "text/csv",
        "0.077,-0.115,-0.717,0.220,0.978,0.232\n-1.485,1.703,1.670,-1.595,0.490,1.487\n",
    );
    assert_eq!(status, 200, "{body}");
    let predictions: Vec<&str> = body.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(predictions.len(), 2, "one prediction per row: {body}");
    for p in predictions {
        assert!(
            p.trim() == "0" || p.trim() == "1" || p.trim().parse::<f64>().is_ok(),
            "{p}"
        );
    }

    // Unchanged: a second run comes from the cache and keeps the endpoint.
    let again = wharf_in(dir).args(["run", file.to_str().unwrap()]).output().unwrap();
    assert!(again.status.success(), "{}", stderr_of(&again));
    assert!(stderr_of(&again).contains("5 cached"), "{}", stderr_of(&again));

    let stop = wharf_in(dir).args(["stop", "last"]).output().unwrap();
    assert!(stop.status.success());
    assert!(
        stderr_of(&stop).contains("stopped endpoint `sklearn-serve`"),
        "{}",
        stderr_of(&stop)
    );
}
