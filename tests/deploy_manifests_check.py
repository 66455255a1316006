#!/usr/bin/python3
"""Checks the deployment files against each other and against the images:
docker/k8s/*.yaml (Deployment + headless Service), docker/compose.yaml and
the Dockerfiles. No cluster is needed: the YAML is parsed (python3-yaml)
and the fields that must agree are compared.

Usage: deploy_manifests_check.py [REPO_ROOT]   (exit 0 when all agree)
"""

import glob
import os
import re
import sys
import unittest

import yaml

ROOT = sys.argv[1] if len(sys.argv) > 1 else os.getcwd()


def read(rel):
    with open(os.path.join(ROOT, rel), encoding="utf-8") as f:
        return f.read()


def k8s_objects():
    objects = {}
    for path in sorted(glob.glob(os.path.join(ROOT, "docker/k8s/*.yaml"))):
        with open(path, encoding="utf-8") as f:
            for doc in yaml.safe_load_all(f):
                if doc:
                    objects[doc["kind"]] = doc
    return objects


class ManifestsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.objects = k8s_objects()
        cls.deployment = cls.objects["Deployment"]
        cls.service = cls.objects["Service"]
        cls.pod = cls.deployment["spec"]["template"]
        cls.container = cls.pod["spec"]["containers"][0]
        cls.ports = {p["name"]: p["containerPort"]
                     for p in cls.container["ports"]}

    def test_api_versions(self):
        self.assertEqual(self.deployment["apiVersion"], "apps/v1")
        self.assertEqual(self.service["apiVersion"], "v1")

    def test_selectors_match_pod_labels(self):
        labels = self.pod["metadata"]["labels"]
        for selector in (self.deployment["spec"]["selector"]["matchLabels"],
                         self.service["spec"]["selector"]):
            for key, value in selector.items():
                self.assertEqual(labels.get(key), value, key)

    def test_service_is_headless_on_the_grpc_port(self):
        spec = self.service["spec"]
        self.assertEqual(spec["clusterIP"], "None")
        for port in spec["ports"]:
            target = port["targetPort"]
            self.assertIn(target, list(self.ports) + list(self.ports.values()))

    def test_probes_are_grpc_on_the_served_port(self):
        for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
            spec = self.container[probe]
            self.assertIn("grpc", spec, probe)
            self.assertEqual(spec["grpc"]["port"], self.ports["grpc"], probe)
            # The health service's "" entry: the whole server.
            self.assertEqual(spec["grpc"].get("service", ""), "", probe)

    def test_gpu_resources(self):
        resources = self.container["resources"]
        for key in ("cpu", "memory", "nvidia.com/gpu"):
            self.assertIn(key, resources["requests"], key)
        # Extended resources: the limit must equal the request.
        self.assertEqual(resources["limits"]["nvidia.com/gpu"],
                         resources["requests"]["nvidia.com/gpu"])
        self.assertIn("--device=cuda", self.container["args"])

    def test_grace_period_covers_the_server_grace(self):
        grace = [float(a.split("=", 1)[1]) for a in self.container["args"]
                 if a.startswith("--shutdown_grace_seconds=")]
        self.assertEqual(len(grace), 1)
        self.assertGreater(
            self.pod["spec"]["terminationGracePeriodSeconds"], grace[0])

    def test_agrees_with_the_images(self):
        security = self.pod["spec"]["securityContext"]
        for dockerfile in ("docker/Dockerfile", "docker/Dockerfile.gpu"):
            text = read(dockerfile)
            user = re.search(r"^USER (\d+):(\d+)$", text, re.M)
            self.assertIsNotNone(user, dockerfile)
            self.assertEqual(int(user.group(1)), security["runAsUser"])
            self.assertEqual(int(user.group(2)), security["runAsGroup"])
            self.assertIn("EXPOSE %d" % self.ports["grpc"], text)
            self.assertRegex(text, r"ENV[^\n]*TINYLM_PORT=%d|TINYLM_PORT=%d"
                             % (self.ports["grpc"], self.ports["grpc"]))

    def test_compose(self):
        compose = yaml.safe_load(read("docker/compose.yaml"))
        services = compose["services"]
        self.assertEqual(set(services), {"tinylm", "tinylm-gpu"})
        for service in services.values():
            dockerfile = os.path.join(ROOT, "docker", service["build"]["context"],
                                      service["build"]["dockerfile"])
            self.assertTrue(os.path.isfile(dockerfile), dockerfile)
            self.assertTrue(any(p.endswith(":%d" % self.ports["grpc"])
                                for p in service["ports"]))
        devices = (services["tinylm-gpu"]["deploy"]["resources"]
                   ["reservations"]["devices"])
        self.assertEqual(devices[0]["driver"], "nvidia")
        self.assertIn("gpu", devices[0]["capabilities"])


if __name__ == "__main__":
    unittest.main(argv=sys.argv[:1], verbosity=1)
