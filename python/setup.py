"""Builds the tinylm package with its gRPC stubs.

The stubs (tinylm/v1/tinylm_pb2.py and tinylm_pb2_grpc.py) are generated
from the project's ../proto/tinylm/v1/tinylm.proto when the package is
built, so the client always speaks the checkout's API: by grpcio-tools
where it is installed (pip's isolated build), else by the protoc and
grpc_python_plugin programs (Debian: protobuf-compiler,
protobuf-compiler-grpc).
"""
import os
import shutil
import subprocess
import sys

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = os.path.dirname(os.path.abspath(__file__))
PROTO_ROOT = os.path.join(HERE, "..", "proto")
PROTO = "tinylm/v1/tinylm.proto"


def generate(out_dir):
    """Writes tinylm/v1/{__init__,tinylm_pb2,tinylm_pb2_grpc}.py under out_dir."""
    if not os.path.exists(os.path.join(PROTO_ROOT, PROTO)):
        sys.exit("setup.py: %s not found: build from the tinylm checkout"
                 % os.path.join(PROTO_ROOT, PROTO))
    os.makedirs(os.path.join(out_dir, "tinylm", "v1"), exist_ok=True)
    args = ["-I" + PROTO_ROOT, "--python_out=" + out_dir,
            "--grpc_python_out=" + out_dir, PROTO]
    try:
        from grpc_tools import protoc
        if protoc.main(["protoc"] + args) != 0:
            sys.exit("setup.py: grpc_tools.protoc failed on " + PROTO)
    except ImportError:
        plugin = shutil.which("grpc_python_plugin")
        if not shutil.which("protoc") or not plugin:
            sys.exit("setup.py: generating the stubs needs grpcio-tools, or "
                     "protoc and grpc_python_plugin on PATH")
        subprocess.check_call(
            ["protoc", "--plugin=protoc-gen-grpc_python=" + plugin] + args)
    open(os.path.join(out_dir, "tinylm", "v1", "__init__.py"), "w").close()


class BuildPyWithStubs(build_py):
    def run(self):
        super().run()
        generate(self.build_lib)


setup(cmdclass={"build_py": BuildPyWithStubs})
