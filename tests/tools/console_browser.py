#!/usr/bin/env python3
"""The web console in a real browser: headless Chromium driven by selenium against a node.

One browser session walks the console as a person would: a wrong secret refused, sign in
and out, create a bucket, make a folder, navigate into it, upload three files (one of
20 MiB, which goes up as a multipart upload with a progress bar) and drop a fourth on the
page, sort them, download one and compare its bytes, share another and fetch the link with
a plain HTTP client, see a hostile key name rendered as text, open that bucket to anonymous downloads with a
policy preset and close it again, delete the folder (the
confirmation names the count), see the cluster's drives, time the first page of a large
prefix, add a policy (bad JSON refused first) and a user with it, upload two versions of a file to
a versioned bucket, restore the older and delete one, upload a folder, set tags, edit
lifecycle rules and resume a failed multipart upload (console_gaps.py), and, signed in with a
readonly key, see the upload button disabled and have a forced upload refused by the node.
Screenshots of each page go to TESSERA_SCREENSHOTS.

Environment (set by tests/tests/e2e/console_browser.rs):
  TESSERA_CONSOLE_URL      http://127.0.0.1:PORT/console/
  TESSERA_ROOT_KEY / TESSERA_ROOT_SECRET, TESSERA_READER_KEY / TESSERA_READER_SECRET
  TESSERA_UPLOAD_DIR       holds small.txt, notes.md, big.bin (20 MiB), tree/ (3 files)
  TESSERA_DOWNLOAD_DIR     where the browser saves downloads
  TESSERA_SCREENSHOTS      where screenshots go
  TESSERA_HOSTILE_KEY      the key pre-made in bucket `hostile`
  TESSERA_MANY_BUCKET / TESSERA_MANY_COUNT   a bucket whose prefix `p/` holds COUNT objects
Exits 0 after "console_browser.py: all checks passed", non-zero with a FAIL line otherwise.
"""

import hashlib
import os
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

from selenium import webdriver
from selenium.common.exceptions import (
    NoAlertPresentException,
    StaleElementReferenceException,
    TimeoutException,
)
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

import console_gaps

BASE = os.environ["TESSERA_CONSOLE_URL"]
ROOT = (os.environ["TESSERA_ROOT_KEY"], os.environ["TESSERA_ROOT_SECRET"])
READER = (os.environ["TESSERA_READER_KEY"], os.environ["TESSERA_READER_SECRET"])
FILES = os.environ["TESSERA_UPLOAD_DIR"]
DOWNLOADS = os.environ["TESSERA_DOWNLOAD_DIR"]
SHOTS = os.environ["TESSERA_SCREENSHOTS"]
HOSTILE = os.environ["TESSERA_HOSTILE_KEY"]
MANY_BUCKET = os.environ["TESSERA_MANY_BUCKET"]
MANY_COUNT = int(os.environ["TESSERA_MANY_COUNT"])
BUCKET = "console-e2e"
VERSIONED = "console-versions"
PIXEL_PNG = ("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAA"
             "AABJRU5ErkJggg==")
STEP = ["start"]


def fail(msg):
    print(f"console_browser.py: FAIL at step {STEP[0]}: {msg}", file=sys.stderr)
    try:
        shot("failure")
        print("page text:\n" + driver.find_element(By.TAG_NAME, "body").text, file=sys.stderr)
        for entry in driver.get_log("browser"):
            print(f"browser log: {entry}", file=sys.stderr)
    except Exception as e:  # noqa: BLE001 (the failure itself is what matters)
        print(f"(no screenshot: {e})", file=sys.stderr)
    sys.exit(1)


def check(cond, msg):
    if not cond:
        fail(msg)


def step(name):
    STEP[0] = name
    print(f"console_browser.py: {name}", flush=True)


def sha256(data):
    return hashlib.sha256(data).hexdigest()


def read(path):
    with open(path, "rb") as f:
        return f.read()


options = webdriver.ChromeOptions()
options.binary_location = "/usr/bin/chromium"
for arg in ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
            "--window-size=1280,900", "--no-first-run", "--disable-extensions"]:
    options.add_argument(arg)
options.add_experimental_option("prefs", {
    "download.default_directory": DOWNLOADS,
    "download.prompt_for_download": False,
    "safebrowsing.enabled": False,
})
options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
driver.execute_cdp_cmd("Browser.setDownloadBehavior",
                       {"behavior": "allow", "downloadPath": DOWNLOADS})


def wait(cond, timeout=20, what="the page"):
    try:
        # A page re-rendered between finding an element and reading it: look again.
        return WebDriverWait(driver, timeout,
                             ignored_exceptions=[StaleElementReferenceException]).until(cond)
    except TimeoutException:
        fail(f"timed out waiting for {what}")


def css(selector):
    return (By.CSS_SELECTOR, selector)


def shot(name):
    driver.save_screenshot(os.path.join(SHOTS, f"{name}.png"))


def sign_in(key, secret):
    wait(EC.visibility_of_element_located(css("#login")), what="the sign-in form")
    access = driver.find_element(By.ID, "access-key")
    access.clear()
    access.send_keys(key)
    driver.find_element(By.ID, "secret-key").send_keys(secret)
    driver.find_element(By.ID, "sign-in").click()


def sign_out():
    driver.find_element(By.ID, "logout").click()
    wait(EC.text_to_be_present_in_element(css("#login-error"), "Signed out"), what="sign-out")


def open_hash(h):
    driver.get(BASE + h)


def no_alert():
    try:
        driver.switch_to.alert
        return False
    except NoAlertPresentException:
        return True


def confirm_dialog():
    wait(EC.visibility_of_element_located(css("#confirm")), what="the confirmation")
    text = driver.find_element(By.ID, "confirm-text").text
    driver.find_element(By.ID, "confirm-ok").click()
    return text


try:
    step("a wrong secret is refused")
    driver.get(BASE)
    sign_in(ROOT[0], "not-the-secret")
    wait(EC.text_to_be_present_in_element(css("#login-error"), "Wrong access key"),
         what="the refusal")
    check(driver.find_element(By.ID, "top").is_displayed() is False, "header shown while out")
    shot("01-login-refused")

    step("sign in and out")
    driver.find_element(By.ID, "secret-key").clear()
    sign_in(*ROOT)
    wait(EC.presence_of_element_located(css("#buckets")), what="the bucket list")
    check(driver.find_element(By.ID, "who").text == ROOT[0], "the signed-in key is shown")
    cookies = driver.get_cookies()
    check(all(c.get("httpOnly") for c in cookies), f"HttpOnly session cookie: {cookies}")
    check(driver.execute_script("return document.cookie") == "", "JS cannot read the cookie")
    sign_out()
    open_hash("#/buckets")
    wait(EC.visibility_of_element_located(css("#login")), what="sign-in after sign-out")
    sign_in(*ROOT)
    wait(EC.presence_of_element_located(css("#buckets")), what="the bucket list")

    step("create a bucket")
    driver.find_element(By.ID, "bucket-name").send_keys(BUCKET)
    driver.find_element(By.CSS_SELECTOR, "#create-bucket button").click()
    wait(EC.presence_of_element_located(css(f'tr[data-bucket="{BUCKET}"]')), what="the bucket")
    shot("02-buckets")

    step("make a folder and navigate into it")
    driver.find_element(By.CSS_SELECTOR, f'tr[data-bucket="{BUCKET}"] a').click()
    wait(EC.presence_of_element_located(css("#objects")), what="the object browser")
    driver.find_element(By.ID, "new-folder").click()
    alert = wait(EC.alert_is_present(), what="the folder prompt")
    alert.send_keys("docs")
    alert.accept()
    wait(EC.presence_of_element_located(css('tr[data-prefix="docs/"] a')), what="the folder")
    driver.find_element(By.CSS_SELECTOR, 'tr[data-prefix="docs/"] a').click()
    wait(EC.text_to_be_present_in_element(css("#crumbs"), "docs"), what="the folder's page")

    step("upload three files, one of 20 MiB as multipart")
    names = ["small.txt", "notes.md", "big.bin"]
    chooser = driver.find_element(By.ID, "upload-input")
    driver.execute_script("arguments[0].hidden = false", chooser)
    chooser.send_keys("\n".join(os.path.join(FILES, n) for n in names))
    seen_partial = False
    deadline = time.time() + 180
    while time.time() < deadline:
        rows = driver.find_elements(By.CSS_SELECTOR, "#uploads .upload")
        for bar in driver.find_elements(By.CSS_SELECTOR, '#uploads .upload[data-key="docs/big.bin"] progress'):
            value, top = float(bar.get_attribute("value")), float(bar.get_attribute("max"))
            if 0 < value < top:
                seen_partial = True
        done = [r for r in rows if "done" in r.get_attribute("class").split()]
        failed = [r for r in rows if "failed" in r.get_attribute("class").split()]
        if failed:
            fail("an upload failed: " + failed[0].text)
        if len(done) == 3:
            break
        time.sleep(0.05)
    else:
        fail("the uploads did not finish")
    big = driver.find_element(By.CSS_SELECTOR, '#uploads .upload[data-key="docs/big.bin"]')
    check("done (3 parts)" in big.text, f"the big file went up in 3 parts: {big.text}")
    bar = big.find_element(By.TAG_NAME, "progress")
    check(bar.get_attribute("value") == bar.get_attribute("max") == str(20 * 1024 * 1024),
          "the big file's progress bar is full")
    print(f"console_browser.py: a partial progress bar was seen during the upload: {seen_partial}")
    for n in names:
        wait(EC.presence_of_element_located(css(f'tr[data-key="docs/{n}"]')), what=f"row {n}")
    shot("03-uploaded")

    step("a file dropped on the page is uploaded")
    driver.execute_script("""
        const data = new DataTransfer();
        data.items.add(new File(['dropped!'], 'dropped.txt', {type: 'text/plain'}));
        const png = atob(arguments[0]);
        const bytes = Uint8Array.from(png, (c) => c.charCodeAt(0));
        data.items.add(new File([bytes], 'pixel.png', {type: 'image/png'}));
        document.getElementById('main').dispatchEvent(
            new DragEvent('drop', {dataTransfer: data, bubbles: true, cancelable: true}));
    """, PIXEL_PNG)
    for n in ["dropped.txt", "pixel.png"]:
        wait(EC.presence_of_element_located(css(f'tr[data-key="docs/{n}"]')),
             what=f"the dropped {n}'s row")

    step("sort the entries by size")
    def first_row():
        return driver.find_element(By.CSS_SELECTOR, "tr.object-row").get_attribute("data-key")
    check(first_row() == "docs/big.bin", f"by name first: {first_row()}")
    driver.find_element(By.ID, "sort-size").click()
    check(first_row() == "docs/dropped.txt", f"smallest first (8 B): {first_row()}")
    driver.find_element(By.ID, "sort-size").click()
    check(first_row() == "docs/big.bin", f"largest first: {first_row()}")

    step("details and previews of text and images")
    driver.find_element(By.CSS_SELECTOR, 'tr[data-key="docs/small.txt"] button.info').click()
    wait(EC.text_to_be_present_in_element(css("#preview-text"), "a small file"),
         what="the text preview")
    check("text/plain" in driver.find_element(By.ID, "details-table").text, "the type shown")
    driver.find_element(By.CSS_SELECTOR, 'tr[data-key="docs/pixel.png"] button.info').click()
    wait(lambda d: d.execute_script(
        "const i = document.getElementById('preview-image'); return i && i.complete && i.naturalWidth"),
        what="the image preview (allowed by the CSP)")
    shot("03b-preview")

    step("rename an object")
    driver.find_element(By.CSS_SELECTOR, 'tr[data-key="docs/notes.md"] button.rename').click()
    alert = wait(EC.alert_is_present(), what="the rename prompt")
    alert.send_keys("docs/renamed.md")
    alert.accept()
    wait(EC.presence_of_element_located(css('tr[data-key="docs/renamed.md"]')),
         what="the renamed row")
    check(driver.find_elements(By.CSS_SELECTOR, 'tr[data-key="docs/notes.md"]') == [],
          "the old name is gone")

    step("download the big file and compare its bytes")
    driver.find_element(By.CSS_SELECTOR, 'tr[data-key="docs/big.bin"] button.download').click()
    target = os.path.join(DOWNLOADS, "big.bin")
    deadline = time.time() + 60
    while time.time() < deadline:
        if os.path.exists(target) and not os.path.exists(target + ".crdownload") \
                and os.path.getsize(target) == 20 * 1024 * 1024:
            break
        time.sleep(0.1)
    else:
        fail(f"no download in {DOWNLOADS}: {os.listdir(DOWNLOADS)}")
    check(sha256(read(target)) == sha256(read(os.path.join(FILES, "big.bin"))),
          "the downloaded bytes are the uploaded ones")

    step("share a link and fetch it with a plain HTTP client")
    driver.find_element(By.CSS_SELECTOR, 'tr[data-key="docs/small.txt"] button.share').click()
    link = wait(EC.presence_of_element_located(css("#share-url")), what="the share link")
    url = link.get_attribute("value")
    check("X-Amz-Expires=86400" in url, f"a one-day link by default: {url}")
    with urllib.request.urlopen(url) as resp:
        check(resp.read() == read(os.path.join(FILES, "small.txt")), "the shared bytes")
    shot("04-shared")

    step("a hostile key name is rendered as text")
    open_hash("#/b/hostile/")
    wait(EC.presence_of_element_located(css("tr.object-row")), what="the hostile row")
    names = [e.text for e in driver.find_elements(By.CSS_SELECTOR, "tr.object-row td.name")]
    check(names == [HOSTILE], f"the key shown as it is: {names}")
    check(driver.find_elements(By.CSS_SELECTOR, "#objects img") == [], "no <img> was made")
    check(no_alert(), "no script ran")
    shot("05-hostile")

    step("a bucket policy opens anonymous downloads, and its removal closes them")
    anonymous = BASE[:-len("console/")] + "hostile/" + urllib.parse.quote(HOSTILE)

    def anonymous_status():
        try:
            with urllib.request.urlopen(anonymous) as resp:
                return resp.status, resp.read()
        except urllib.error.HTTPError as e:
            return e.code, b""

    check(anonymous_status()[0] == 403, "private at first")
    open_hash("#/buckets")
    wait(EC.presence_of_element_located(css('tr[data-bucket="hostile"] a.bucket-policy')),
         what="the policy link")
    driver.find_element(By.CSS_SELECTOR, 'tr[data-bucket="hostile"] a.bucket-policy').click()
    wait(EC.text_to_be_present_in_element(css("#bucket-policy-state"), "No bucket policy"),
         what="the policy page")
    driver.find_element(By.ID, "bucket-policy").send_keys("{")
    driver.find_element(By.ID, "save-policy").click()
    wait(EC.text_to_be_present_in_element(css("#bucket-policy-error"), "Not valid JSON"),
         what="the JSON check")
    from selenium.webdriver.support.ui import Select
    Select(driver.find_element(By.ID, "anonymous")).select_by_value("download")
    driver.find_element(By.ID, "save-policy").click()
    wait(EC.text_to_be_present_in_element(css("#bucket-policy-state"), "has a policy"),
         what="the saved policy")
    check(anonymous_status() == (200, b"not markup"), "anyone may download now")
    shot("05b-bucket-policy")
    driver.find_element(By.ID, "remove-policy").click()
    wait(EC.text_to_be_present_in_element(css("#bucket-policy-state"), "No bucket policy"),
         what="the removed policy")
    check(anonymous_status()[0] == 403, "private again")

    step("delete a prefix; the confirmation names the count")
    open_hash(f"#/b/{BUCKET}/")
    wait(EC.presence_of_element_located(css('tr[data-prefix="docs/"] button.delete-prefix')),
         what="the folder row")
    driver.find_element(By.CSS_SELECTOR, 'tr[data-prefix="docs/"] button.delete-prefix').click()
    text = confirm_dialog()
    check(text == "Delete 6 objects under docs/?", f"the confirmation: {text!r}")
    wait(EC.invisibility_of_element_located(css('tr[data-prefix="docs/"]')), timeout=30,
         what="the folder to go")
    shot("06-prefix-deleted")

    step("the cluster page shows the drives")
    driver.find_element(By.ID, "nav-cluster").click()
    wait(EC.text_to_be_present_in_element(css("#cluster-summary"), "4 of 4 drives online"),
         what="the cluster summary")
    states = [e.text for e in driver.find_elements(By.CSS_SELECTOR, "tr.drive td.state")]
    check(states == ["online"] * 4, f"drive states: {states}")
    # The live charts draw once two readings of the counters are in (one refresh).
    wait(lambda d: d.find_element(By.CSS_SELECTOR, "#chart-requests polyline").get_attribute("points"),
         timeout=15, what="the request-rate chart")
    check(driver.find_elements(By.CSS_SELECTOR, "#chart-sent polyline"), "the traffic chart")
    nodes = driver.find_elements(By.CSS_SELECTOR, "#cluster-nodes tr.node")
    check(len(nodes) == 1 and "online" in nodes[0].text and "4 of 4" in nodes[0].text,
          f"one node with its 4 drives online: {[n.text for n in nodes]}")
    check("scanner" in driver.find_element(By.ID, "cluster-scanner").text, "the scanner's figures")
    shot("07-cluster")

    step("first page of a prefix of many objects")
    start = time.time()
    open_hash(f"#/b/{MANY_BUCKET}/p%2F")
    wait(lambda d: d.find_element(By.ID, "main").get_attribute("data-render-ms"), timeout=60,
         what="the listing")
    wall = time.time() - start
    rows = len(driver.find_elements(By.CSS_SELECTOR, "tr.object-row"))
    check(rows == min(MANY_COUNT, 1000), f"one page of rows: {rows}")
    js_ms = driver.find_element(By.ID, "main").get_attribute("data-render-ms")
    print(f"console_browser.py: first page of a {MANY_COUNT}-object prefix ({rows} rows): "
          f"{js_ms} ms in the page, {wall * 1000:.0f} ms from navigation")
    more = driver.find_element(By.ID, "more")
    check(more.is_displayed() == (MANY_COUNT > 1000), "a More button when there is more")
    if MANY_COUNT > 1000:
        more.click()
        wait(lambda d: len(d.find_elements(By.CSS_SELECTOR, "tr.object-row")) == min(MANY_COUNT, 2000),
             what="the second page")
    shot("08-many")

    step("identities: a policy checked before saving, a user with its secret shown once")
    driver.find_element(By.ID, "nav-identities").click()
    wait(EC.presence_of_element_located(css('tr[data-user="reader"]')), what="the users")
    driver.find_element(By.ID, "policy-name").send_keys("console-read")
    editor = driver.find_element(By.ID, "policy-document")
    editor.clear()
    editor.send_keys('{"Statement": [')
    driver.find_element(By.CSS_SELECTOR, "#put-policy button").click()
    wait(EC.text_to_be_present_in_element(css("#policy-error"), "Not valid JSON"),
         what="the JSON check")
    editor.clear()
    editor.send_keys('{"Version":"2012-10-17","Statement":[{"Effect":"Allow",'
                     '"Action":["s3:GetObject"],"Resource":["arn:aws:s3:::hostile/*"]}]}')
    driver.find_element(By.CSS_SELECTOR, "#put-policy button").click()
    wait(EC.presence_of_element_located(css('details[data-policy="console-read"]')),
         what="the saved policy")
    driver.find_element(By.ID, "user-name").send_keys("dave")
    from selenium.webdriver.support.ui import Select
    Select(driver.find_element(By.ID, "user-policy")).select_by_value("console-read")
    driver.find_element(By.CSS_SELECTOR, "#add-user button").click()
    wait(EC.presence_of_element_located(css('tr[data-user="dave"]')), what="the new user")
    secret = driver.find_element(By.ID, "new-secret").get_attribute("value")
    check(len(secret) >= 20, f"the new secret is shown: {secret!r}")
    shot("09-identities")
    dave = 'tr[data-user="dave"]'
    driver.find_element(By.CSS_SELECTOR, f"{dave} button.toggle-user").click()
    wait(EC.text_to_be_present_in_element(css(f"{dave} td.user-state"), "disabled"),
         what="dave disabled")
    driver.find_element(By.CSS_SELECTOR, f"{dave} button.toggle-user").click()
    wait(EC.text_to_be_present_in_element(css(f"{dave} td.user-state"), "enabled"),
         what="dave enabled")
    driver.find_element(By.CSS_SELECTOR, f"{dave} button.add-key").click()
    wait(lambda d: d.find_element(By.ID, "new-secret").get_attribute("value") != secret,
         what="a second key's secret")
    driver.find_element(By.CSS_SELECTOR, f"{dave} button.remove-user").click()
    text = confirm_dialog()
    check(text == "Remove user dave and its keys?", f"the confirmation: {text!r}")
    wait(EC.invisibility_of_element_located(css(dave)), what="dave removed")

    step("versions: a versioned bucket, two uploads of a file, restore, delete a version")
    open_hash("#/buckets")
    wait(EC.presence_of_element_located(css("#create-bucket")), what="the bucket form")
    driver.find_element(By.ID, "bucket-name").send_keys("console-locked")
    driver.find_element(By.ID, "bucket-lock").click()
    driver.find_element(By.CSS_SELECTOR, "#create-bucket button").click()
    wait(EC.presence_of_element_located(css('tr[data-bucket="console-locked"]')),
         what="the bucket with object lock")
    driver.find_element(By.ID, "bucket-name").send_keys(VERSIONED)
    driver.find_element(By.ID, "bucket-versioning").click()
    driver.find_element(By.CSS_SELECTOR, "#create-bucket button").click()
    wait(EC.presence_of_element_located(css(f'tr[data-bucket="{VERSIONED}"] a')),
         what="the versioned bucket")
    driver.find_element(By.CSS_SELECTOR, f'tr[data-bucket="{VERSIONED}"] a').click()
    wait(EC.presence_of_element_located(css("#objects")), what="its browser")
    for n, edition in enumerate(["v1", "v2"], start=1):
        chooser = driver.find_element(By.ID, "upload-input")
        driver.execute_script("arguments[0].hidden = false", chooser)
        chooser.send_keys(os.path.join(FILES, edition, "v.txt"))
        wait(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#uploads .upload.done")) == n,
             what=f"upload {n}")
    wait(EC.presence_of_element_located(css('tr[data-key="v.txt"] button.versions')),
         what="the Versions button")
    driver.find_element(By.CSS_SELECTOR, 'tr[data-key="v.txt"] button.versions').click()
    wait(lambda d: len(d.find_elements(By.CSS_SELECTOR, "tr.version")) == 2, what="two versions")
    rows = driver.find_elements(By.CSS_SELECTOR, "tr.version")
    check("current" in rows[0].text, f"the newest is current: {rows[0].text}")
    oldest = rows[1].get_attribute("data-version")
    rows[1].find_element(By.CSS_SELECTOR, "button.restore-version").click()
    wait(lambda d: len(d.find_elements(By.CSS_SELECTOR, "tr.version")) == 3,
         what="the restored version")
    driver.find_element(By.CSS_SELECTOR, 'tr[data-key="v.txt"] button.share').click()
    wait(EC.presence_of_element_located(css("#share-url")), what="the share link")
    url = driver.find_element(By.ID, "share-url").get_attribute("value")
    with urllib.request.urlopen(url) as resp:
        check(resp.read() == read(os.path.join(FILES, "v1", "v.txt")), "the restored bytes")
    driver.find_element(By.CSS_SELECTOR, f'tr.version[data-version="{oldest}"] button.delete-version').click()
    text = confirm_dialog()
    check(oldest in text, f"the confirmation names the version: {text}")
    wait(lambda d: len(d.find_elements(By.CSS_SELECTOR, "tr.version")) == 2,
         what="the version to go")
    shot("09b-versions")

    console_gaps.run(driver, sys.modules[__name__], BUCKET)

    step("a readonly key's upload is refused by the node")
    sign_out()
    open_hash("#/buckets")
    sign_in(*READER)
    wait(EC.presence_of_element_located(css(f'tr[data-bucket="{BUCKET}"]')), what="reader's buckets")
    open_hash(f"#/b/{BUCKET}/")
    wait(EC.presence_of_element_located(css("#objects")), what="reader's browser")
    for button in ["upload", "upload-folder", "new-folder"]:
        wait(lambda d: not d.find_element(By.ID, button).is_enabled(), what=f"#{button} disabled")
    # Forced anyway: the node refuses it.
    chooser = driver.find_element(By.ID, "upload-input")
    driver.execute_script("arguments[0].hidden = false", chooser)
    chooser.send_keys(os.path.join(FILES, "small.txt"))
    failed = wait(EC.presence_of_element_located(css("#uploads .upload.failed")), timeout=30,
                  what="the refusal")
    check("Access denied" in failed.text, f"the refusal is explained: {failed.text}")
    shot("10-readonly-refused")
    sign_out()
except SystemExit:
    raise
except Exception as e:  # noqa: BLE001
    fail(f"{type(e).__name__}: {e}")
finally:
    driver.quit()

print("console_browser.py: all checks passed")
