"""The console's cluster page watching a node die, in headless Chromium (run by the Rust
e2e test console_cluster_browser): signs in, opens the cluster page, prints "ready" and
waits for a line on stdin (the test kills a node, then writes "killed"), then waits until
the page shows that node offline and its drives offline, and prints how long it took.

Environment: TESSERA_CONSOLE_URL, TESSERA_ROOT_KEY / TESSERA_ROOT_SECRET,
TESSERA_KILLED_NODE (the node's "http://host:port" as the page names it),
TESSERA_SCREENSHOTS (a directory). Exits 0 after "console_cluster.py: offline after".
"""

import os
import sys
import time

from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException, TimeoutException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

BASE = os.environ["TESSERA_CONSOLE_URL"]
KEY, SECRET = os.environ["TESSERA_ROOT_KEY"], os.environ["TESSERA_ROOT_SECRET"]
KILLED = os.environ["TESSERA_KILLED_NODE"]
SHOTS = os.environ["TESSERA_SCREENSHOTS"]

options = webdriver.ChromeOptions()
options.binary_location = "/usr/bin/chromium"
for arg in ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
            "--window-size=1280,900", "--no-first-run", "--disable-extensions"]:
    options.add_argument(arg)
driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)


def wait(cond, timeout, what):
    try:
        return WebDriverWait(driver, timeout,
                             ignored_exceptions=[StaleElementReferenceException]).until(cond)
    except TimeoutException:
        driver.save_screenshot(os.path.join(SHOTS, "cluster-failure.png"))
        print(f"console_cluster.py: FAIL: timed out waiting for {what}; page:\n"
              + driver.find_element(By.TAG_NAME, "body").text, file=sys.stderr)
        sys.exit(1)


def node_state(d):
    """The state the nodes table shows for the killed node, if it shows it."""
    for row in d.find_elements(By.CSS_SELECTOR, "#cluster-nodes tr.node"):
        cells = [c.text for c in row.find_elements(By.TAG_NAME, "td")]
        if cells and cells[0] == KILLED:
            return cells[1]
    return None


try:
    driver.get(BASE)
    wait(EC.visibility_of_element_located((By.ID, "login")), 20, "the sign-in form")
    driver.find_element(By.ID, "access-key").send_keys(KEY)
    driver.find_element(By.ID, "secret-key").send_keys(SECRET)
    driver.find_element(By.ID, "sign-in").click()
    wait(EC.presence_of_element_located((By.ID, "buckets")), 20, "the bucket list")
    driver.find_element(By.ID, "nav-cluster").click()
    wait(lambda d: node_state(d) == "online", 20, f"{KILLED} shown online")
    rows = driver.find_elements(By.CSS_SELECTOR, "#cluster-nodes tr.node")
    if len(rows) != 3:
        print(f"console_cluster.py: FAIL: {len(rows)} nodes shown, not 3", file=sys.stderr)
        sys.exit(1)
    print("ready", flush=True)
    sys.stdin.readline()
    start = time.time()
    wait(lambda d: node_state(d) == "offline", 15, f"{KILLED} shown offline")
    took = time.time() - start
    states = [r.text for r in driver.find_elements(By.CSS_SELECTOR, "tr.drive")]
    dead = [s for s in states if KILLED in s]
    if len(dead) != 2 or not all("offline" in s for s in dead):
        print(f"console_cluster.py: FAIL: the killed node's drives: {dead}", file=sys.stderr)
        sys.exit(1)
    others = [r.text for r in driver.find_elements(By.CSS_SELECTOR, "#cluster-nodes tr.node")
              if not r.text.startswith(KILLED)]
    if len(others) != 2 or not all("online" in s for s in others):
        print(f"console_cluster.py: FAIL: the other nodes: {others}", file=sys.stderr)
        sys.exit(1)
    driver.save_screenshot(os.path.join(SHOTS, "cluster-node-offline.png"))
    print(f"console_cluster.py: offline after {took:.1f} s", flush=True)
finally:
    driver.quit()
