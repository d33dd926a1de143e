"""The console's folder upload, tags, lifecycle and resumable uploads, in the browser walk of
console_browser.py (which imports this and calls run() while signed in with the root key).

- a folder chosen with the "Upload folder" picker goes up under the current prefix with its
  tree kept in the keys, and so does a dropped folder (walked by the page; the Rust test
  lists the keys);
- an object's details show its user metadata; two tags are set (a malformed line refused
  first) and the Rust test reads them with the SDK;
- the buckets page counts a bucket's objects (1000+ beyond one listing page);
- lifecycle: a rule ID the node refuses is explained in words, two rules added and one
  removed in bucket `gaps` (the Rust test reads the other with the SDK), and the rules of
  a bucket made earlier in the walk deleted all at once;
- resume: with `?test-fail-part=2`, the page sends part 2 of the 20 MiB file with a wrong
  Content-MD5, so the node refuses it and the upload fails; Resume asks the node for its
  parts and sends only the missing ones (the Rust test compares the bytes);
- then console_keys.py's steps (a user's keys listed and one removed, a policy attached) and
  console_deleted.py's ("Show deleted" on a versioned bucket, an object restored).
"""

import os
import re

import console_deleted
import console_keys

from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC

BUCKET = "gaps"


def run(driver, ui, created):
    """`ui` is console_browser.py's helpers; `created` a bucket made earlier in the walk."""
    css, wait, check, step = ui.css, ui.wait, ui.check, ui.step

    step("upload a folder: its tree becomes key prefixes under the current prefix")
    ui.open_hash(f"#/b/{BUCKET}/in%2F")
    wait(EC.presence_of_element_located(css("#objects")), what="the object browser")
    chooser = driver.find_element(By.ID, "upload-folder-input")
    check(chooser.get_attribute("webkitdirectory") is not None, "a folder picker")
    driver.execute_script("arguments[0].hidden = false", chooser)
    chooser.send_keys(os.path.join(ui.FILES, "tree"))
    wait(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#uploads .upload.done")) == 3,
         what="the folder's three files")
    wait(EC.presence_of_element_located(css('tr[data-prefix="in/tree/"]')), what="the folder row")
    ui.shot("11-folder-uploaded")

    step("drop a folder: the page walks it (entries read in several batches)")
    # A DataTransfer made in JS cannot hold a directory, so the drop handler is called with
    # one whose item gives a directory entry of the File and Directory Entries API's shape.
    driver.execute_script("""
        const file = (path, text) => ({ isFile: true, isDirectory: false, fullPath: path,
            file: (ok) => ok(new File([text], path.split('/').pop(), {type: 'text/plain'})) });
        const dir = (path, batches) => ({ isFile: false, isDirectory: true, fullPath: path,
            createReader: () => { const left = [...batches, []];
                return { readEntries: (ok) => setTimeout(() => ok(left.shift()), 0) }; } });
        const tree = dir('/drop', [[file('/drop/x.txt', 'x')],
            [dir('/drop/y', [[file('/drop/y/z.txt', 'zz')]])]]);
        const item = { kind: 'file', webkitGetAsEntry: () => tree, getAsFile: () => null };
        document.getElementById('main').ondrop({ preventDefault() {}, dataTransfer: { items: [item] } });
    """)
    wait(EC.presence_of_element_located(css('tr[data-prefix="in/drop/"]')),
         what="the dropped folder's row")

    step("details show user metadata; tags are set")
    ui.open_hash(f"#/b/{BUCKET}/")
    wait(EC.presence_of_element_located(css('tr[data-key="report.txt"] button.info')),
         what="the seeded object")
    driver.find_element(By.CSS_SELECTOR, 'tr[data-key="report.txt"] button.info').click()
    wait(EC.text_to_be_present_in_element(css("#tags-state"), "No tags"), what="the tags")
    table = driver.find_element(By.ID, "details-table").text
    check("x-amz-meta-owner" in table and "console-test" in table, f"user metadata: {table}")
    editor = driver.find_element(By.ID, "tags-editor")
    editor.send_keys("no equals sign")
    driver.find_element(By.ID, "save-tags").click()
    wait(EC.text_to_be_present_in_element(css("#tags-error"), "key=value"),
         what="the malformed line refused")
    editor.clear()
    editor.send_keys("project=tessera\nstage=e2e")
    driver.find_element(By.ID, "save-tags").click()
    wait(EC.text_to_be_present_in_element(css("#tags-state"), "2 tags"), what="the saved tags")
    check(driver.find_element(By.ID, "tags-editor").get_attribute("value")
          == "project=tessera\nstage=e2e", "the tags read back")
    ui.shot("12-tags")

    def add_rule(rule_id, prefix="", expire="", noncurrent="", abort=""):
        for field, value in [("rule-id", rule_id), ("rule-prefix", prefix),
                             ("rule-expire", expire), ("rule-noncurrent", noncurrent),
                             ("rule-abort", abort)]:
            box = driver.find_element(By.ID, field)
            box.clear()
            box.send_keys(value)
        driver.find_element(By.CSS_SELECTOR, "#add-rule button").click()

    step("object counts; lifecycle: a refused rule explained, two rules added, one removed")
    ui.open_hash("#/buckets")
    link = f'tr[data-bucket="{BUCKET}"] a.bucket-lifecycle'
    wait(EC.presence_of_element_located(css(link)), what="the lifecycle link")
    wait(EC.text_to_be_present_in_element(css(f'tr[data-bucket="{BUCKET}"] td.usage'), "6 ("),
         what="the bucket's object count")
    wait(EC.text_to_be_present_in_element(css(f'tr[data-bucket="{ui.MANY_BUCKET}"] td.usage'),
                                          "1000+ ("), what="a count beyond one page")
    driver.find_element(By.CSS_SELECTOR, link).click()
    wait(EC.text_to_be_present_in_element(css("#lifecycle-state"), "No lifecycle rules"),
         what="the lifecycle page")
    add_rule("x" * 300, expire="5")
    wait(EC.text_to_be_present_in_element(css("#lifecycle-error"), "at most 255 characters"),
         what="the node's refusal in words")
    add_rule("expire-logs", prefix="logs/", expire="30", abort="7")
    wait(EC.presence_of_element_located(css('tr[data-rule="expire-logs"]')), what="rule one")
    add_rule("old-versions", noncurrent="10")
    wait(EC.presence_of_element_located(css('tr[data-rule="old-versions"]')), what="rule two")
    row = driver.find_element(By.CSS_SELECTOR, 'tr[data-rule="expire-logs"]').text
    check("expire objects after 30 days" in row and "abort incomplete uploads after 7 days" in row,
          f"the rule read back: {row}")
    ui.shot("13-lifecycle")
    driver.find_element(By.CSS_SELECTOR, 'tr[data-rule="old-versions"] button.remove-rule').click()
    check(ui.confirm_dialog() == "Remove the rule old-versions?", "the confirmation")
    wait(EC.invisibility_of_element_located(css('tr[data-rule="old-versions"]')),
         what="rule two removed")
    wait(EC.text_to_be_present_in_element(css("#lifecycle-state"), "1 rule;"), what="one rule")

    step("lifecycle: every rule of a bucket deleted")
    ui.open_hash(f"#/lifecycle/{created}")
    wait(EC.text_to_be_present_in_element(css("#lifecycle-state"), "No lifecycle rules"),
         what="the lifecycle page")
    add_rule("abandoned", abort="1")
    wait(EC.presence_of_element_located(css('tr[data-rule="abandoned"]')), what="the rule")
    driver.find_element(By.ID, "delete-lifecycle").click()
    ui.confirm_dialog()
    wait(EC.text_to_be_present_in_element(css("#lifecycle-state"), "No lifecycle rules"),
         what="the rules deleted")

    step("a multipart upload whose part fails is resumed, sending only the missing parts")
    driver.get(ui.BASE + f"?test-fail-part=2#/b/{BUCKET}/")
    wait(EC.presence_of_element_located(css("#objects")), what="the object browser")
    chooser = driver.find_element(By.ID, "upload-input")
    driver.execute_script("arguments[0].hidden = false", chooser)
    chooser.send_keys(os.path.join(ui.FILES, "big.bin"))
    big = '#uploads .upload[data-key="big.bin"]'
    wait(EC.presence_of_element_located(css(f"{big}.failed button.resume")), timeout=120,
         what="the failed upload's Resume button")
    text = driver.find_element(By.CSS_SELECTOR, big).text
    check("damaged" in text, f"the failure explained: {text}")
    ui.shot("14-upload-failed")
    driver.find_element(By.CSS_SELECTOR, f"{big} button.resume").click()
    wait(EC.presence_of_element_located(css(f"{big}.done")), timeout=120, what="the resumed upload")
    text = driver.find_element(By.CSS_SELECTOR, big).text
    sent = re.search(r"done \(3 parts, (\d) sent on resume\)", text)
    check(sent and 1 <= int(sent.group(1)) < 3, f"only the missing parts were sent: {text}")
    wait(EC.presence_of_element_located(css('tr[data-key="big.bin"]')), what="the object row")
    ui.shot("15-upload-resumed")

    console_keys.run(driver, ui)
    console_deleted.run(driver, ui)
