""""Show deleted" in the object browser of a versioned bucket, in the browser walk of
console_browser.py (console_gaps.py calls run() while signed in with the root key).

Bucket `trash` (versioned, seeded by the Rust test) holds docs/gone.txt; docs/deep/hidden.txt
and other/old.txt were deleted there. Under docs/ the step deletes gone.txt, ticks "Show
deleted" (only gone.txt is listed: the deeper and the other prefix's markers are not), opens
its versions (the marker is the latest), and restores it (its marker deleted): the row comes
back in the listing and the Rust test reads the bytes with the SDK. docs/deep/, whose one key
is deleted, is not in the listing (as in S3) but in the deleted panel, as a link that opens
it, where "Show deleted" lists hidden.txt.
"""

from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC

KEY = "docs/gone.txt"


def run(driver, ui):
    css, wait, check, step = ui.css, ui.wait, ui.check, ui.step

    step("show deleted: an object deleted on a versioned bucket is listed and restored")
    ui.open_hash("#/b/trash/docs%2F")
    row = f'#objects tr[data-key="{KEY}"]'
    wait(EC.presence_of_element_located(css(f"{row} button.delete-object")), what="gone.txt")
    driver.find_element(By.CSS_SELECTOR, f"{row} button.delete-object").click()
    ui.confirm_dialog()
    wait(EC.invisibility_of_element_located(css(row)), what="gone.txt deleted")
    driver.find_element(By.ID, "show-deleted").click()
    deleted = f'#deleted tr.deleted-row[data-key="{KEY}"]'
    wait(EC.presence_of_element_located(css(deleted)), what="the deleted key listed")
    keys = [r.get_attribute("data-key")
            for r in driver.find_elements(By.CSS_SELECTOR, "#deleted tr.deleted-row")]
    check(keys == [KEY], f"only the deleted key directly under docs/: {keys}")
    driver.find_element(By.CSS_SELECTOR, f"{deleted} button.versions").click()
    wait(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#versions tr.version")) == 2,
         what="its version and delete marker")
    first = driver.find_elements(By.CSS_SELECTOR, "#versions tr.version")[0].text
    check("delete marker" in first, f"the marker is the latest: {first}")
    ui.shot("18-show-deleted")
    driver.find_element(By.CSS_SELECTOR, f"{deleted} button.restore-deleted").click()
    wait(EC.invisibility_of_element_located(css(deleted)), what="gone.txt no longer deleted")
    wait(EC.presence_of_element_located(css(row)), what="gone.txt back in the listing")
    ui.shot("19-restored")

    step("show deleted: a folder whose keys are all deleted is reached from the deleted panel")
    deep = "docs/deep/"
    folder = f'#deleted tr.deleted-folder[data-prefix="{deep}"]'
    wait(EC.presence_of_element_located(css(folder)), what="docs/deep/ in the deleted panel")
    listed = driver.find_elements(By.CSS_SELECTOR, f'#objects tr.folder-row[data-prefix="{deep}"]')
    check(not listed, "docs/deep/ (every key deleted) is not in the listing")
    old = driver.find_element(By.ID, "show-deleted")
    driver.find_element(By.CSS_SELECTOR, f"{folder} a.folder").click()
    wait(EC.staleness_of(old), what="docs/deep/ opened")
    wait(EC.element_to_be_clickable(css("#show-deleted")), what="its Show deleted")
    driver.find_element(By.ID, "show-deleted").click()
    hidden = '#deleted tr.deleted-row[data-key="docs/deep/hidden.txt"]'
    wait(EC.presence_of_element_located(css(hidden)), what="hidden.txt listed under docs/deep/")
    ui.shot("20-deleted-folder")
