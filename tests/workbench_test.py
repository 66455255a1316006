"""The workbench page (GET / on --http_listen) in a real browser: headless
Chromium driven by chromedriver through Selenium (Debian's chromium,
chromium-driver, python3-selenium) against the real tinylm-server. A prompt
is submitted; each model's streamed continuation must equal its greedy
Generate over gRPC; the heatmap is drawn and the weight its hover shows
equals the AttentionMaps RPC's value; the statistics and logit lens tables
fill in. A screenshot of the page is saved as the test's artefact.

Usage: workbench_test.py SERVER_BINARY PYTHON_STUBS_DIR CHECKPOINTS_DIR SCREENSHOT_PNG
"""
import os
import re
import select
import shutil
import struct
import subprocess
import sys
import time
import unittest

SERVER, STUBS, CHECKPOINTS, SCREENSHOT = sys.argv[1:5]
del sys.argv[1:5]
sys.path.insert(0, STUBS)
import grpc  # noqa: E402
from selenium import webdriver  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.action_chains import ActionChains  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402
from tinylm.v1 import tinylm_pb2 as pb, tinylm_pb2_grpc  # noqa: E402

PROMPT = "海の見える小さな町で彼女は、"
NEW_TOKENS = 12
WAIT_S = 60


def start_server():
    """(process, gRPC port, HTTP port) of a server with the HTTP face."""
    process = subprocess.Popen(
        [SERVER, "--listen=127.0.0.1:0", "--http_listen=127.0.0.1:0",
         "--checkpoints=" + CHECKPOINTS, "--device=cpu",
         "--log_requests=off", "--shutdown_grace_seconds=5"],
        stdout=subprocess.PIPE)
    fd, output = process.stdout.fileno(), b""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        grpc_port = re.search(rb"on port (\d+)", output)
        http_port = re.search(rb"on http_port (\d+)", output)
        if grpc_port and http_port:
            return process, int(grpc_port.group(1)), int(http_port.group(1))
        if select.select([fd], [], [], 1.0)[0]:
            data = os.read(fd, 4096)
            if not data:
                break
            output += data
    raise RuntimeError("server did not start: %r" % output)


class WorkbenchTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.process, grpc_port, cls.http_port = start_server()
        cls.channel = grpc.insecure_channel("127.0.0.1:%d" % grpc_port)
        cls.stub = tinylm_pb2_grpc.TinyLMStub(cls.channel)
        options = webdriver.ChromeOptions()
        for flag in ("--headless=new", "--no-sandbox", "--disable-gpu",
                     "--disable-dev-shm-usage", "--window-size=1400,1800"):
            options.add_argument(flag)
        options.binary_location = shutil.which("chromium")
        cls.browser = webdriver.Chrome(
            service=Service(shutil.which("chromedriver")), options=options)

    @classmethod
    def tearDownClass(cls):
        cls.browser.quit()
        cls.channel.close()
        cls.process.terminate()
        cls.process.wait(timeout=30)
        cls.process.stdout.close()

    def wait(self, condition):
        return WebDriverWait(self.browser, WAIT_S).until(
            lambda driver: condition())

    def greedy_text(self, model):
        request = pb.GenerateRequest(model=model, text=PROMPT,
                                     max_new_tokens=NEW_TOKENS)
        request.sampling.temperature = 0
        return "".join(r.token.text for r in self.stub.Generate(request,
                                                                timeout=60)
                       if r.HasField("token"))

    def test_prompt_streams_heatmap_hovers(self):
        b = self.browser
        b.get("http://127.0.0.1:%d/" % self.http_port)
        names = [m.name for m in self.stub.ListModels(
            pb.ListModelsRequest(), timeout=30).models]
        self.wait(lambda: len(b.find_elements(
            By.CSS_SELECTOR, "#models input")) == len(names))
        prompt = b.find_element(By.ID, "prompt")
        prompt.clear()
        prompt.send_keys(PROMPT)
        for field, value in (("max-tokens", NEW_TOKENS), ("temperature", 0)):
            box = b.find_element(By.ID, field)
            box.clear()
            box.send_keys(str(value))
        b.find_element(By.ID, "run").click()

        # Every model's stream ends, showing the greedy continuation.
        self.wait(lambda: len(b.find_elements(
            By.CSS_SELECTOR, ".stream[data-done=true]")) == len(names))
        for name in names:
            box = b.find_element(By.CSS_SELECTOR,
                                 '.stream[data-model="%s"]' % name)
            out = box.find_element(By.CSS_SELECTOR, ".text .out")
            self.assertEqual(out.get_attribute("textContent"),
                             self.greedy_text(name), name)
            self.wait(lambda: len(box.find_elements(
                By.CSS_SELECTOR, ".topk .bar")) == 5)
        self.assertEqual(b.find_element(By.ID, "status").text, "")

        # The heatmap, and the weight under the pointer.
        canvas = b.find_element(By.ID, "heatmap")
        self.wait(lambda: canvas.get_attribute("data-tokens"))
        t = int(canvas.get_attribute("data-tokens"))
        cell = int(canvas.get_attribute("data-cell"))
        pad = int(canvas.get_attribute("data-pad"))  # the label margin
        model = canvas.get_attribute("data-model")
        layer = int(canvas.get_attribute("data-layer"))
        head = int(canvas.get_attribute("data-head"))
        maps = self.stub.AttentionMaps(pb.AttentionMapsRequest(
            model=model, text=PROMPT, layers=[layer], heads=[head]),
            timeout=60)
        self.assertEqual(len(maps.token_ids), t)
        weights = struct.unpack("<%df" % (t * t), maps.maps[0].data)
        hover = b.find_element(By.ID, "hover")
        width = canvas.size["width"]
        for i, j in ((t - 1, 0), (t - 1, t - 1), (t // 2, t // 3)):
            # Offsets from the canvas's centre (Selenium 4).
            ActionChains(b).move_to_element_with_offset(
                canvas, int(pad + (j + 0.5) * cell - width / 2),
                int(pad + (i + 0.5) * cell - width / 2)).perform()
            self.wait(lambda: hover.get_attribute("data-query") == str(i) and
                      hover.get_attribute("data-key") == str(j))
            self.assertAlmostEqual(float(hover.get_attribute("data-weight")),
                                   weights[i * t + j], places=6)
            self.assertIn("→", hover.text)
        self.wait(lambda: len(b.find_elements(By.CSS_SELECTOR,
                                              "#stats tr")) > 1)
        self.wait(lambda: len(b.find_elements(By.CSS_SELECTOR,
                                              "#lens tr")) > 2)
        b.save_screenshot(SCREENSHOT)
        self.assertGreater(os.path.getsize(SCREENSHOT), 10000)


if __name__ == "__main__":
    unittest.main()
