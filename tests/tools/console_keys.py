"""The identities page's keys and policy attachment, in the browser walk of console_browser.py
(console_gaps.py calls run() while signed in with the root key):

- a user `erin` is added with no policy and given a second key; "Keys" lists both, and the
  second one's Remove (confirmed) leaves one;
- the attach form attaches `readonly` to erin and the users table shows it (the Rust test
  reads erin's policies and keys with the CLI).
"""

from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import Select


def run(driver, ui):
    css, wait, check, step = ui.css, ui.wait, ui.check, ui.step

    step("identities: a user's keys listed, one removed; a policy attached")
    ui.open_hash("#/identities")
    wait(EC.presence_of_element_located(css('tr[data-user="reader"]')), what="the users")
    driver.find_element(By.ID, "user-name").send_keys("erin")
    Select(driver.find_element(By.ID, "user-policy")).select_by_value("")
    driver.find_element(By.CSS_SELECTOR, "#add-user button").click()
    erin = 'tr[data-user="erin"]'
    wait(EC.presence_of_element_located(css(erin)), what="erin")
    first = driver.find_element(By.ID, "new-access").get_attribute("textContent")
    driver.find_element(By.CSS_SELECTOR, f"{erin} button.add-key").click()
    wait(lambda d: d.find_element(By.ID, "new-access").get_attribute("textContent") != first,
         what="erin's second key")
    second = driver.find_element(By.ID, "new-access").get_attribute("textContent")
    driver.find_element(By.CSS_SELECTOR, f"{erin} button.list-keys").click()
    wait(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#key-table tr[data-key]")) == 2,
         what="erin's two keys listed")
    ui.shot("16-user-keys")
    driver.find_element(By.CSS_SELECTOR, f'#key-table tr[data-key="{second}"] button.remove-key').click()
    text = ui.confirm_dialog()
    check(text == f"Remove access key {second}?", f"the confirmation: {text!r}")
    wait(EC.invisibility_of_element_located(css(f'#key-table tr[data-key="{second}"]')),
         what="the second key removed")
    keys = [r.get_attribute("data-key")
            for r in driver.find_elements(By.CSS_SELECTOR, "#key-table tr[data-key]")]
    check(keys == [first], f"the first key left: {keys}")

    Select(driver.find_element(By.ID, "attach-user")).select_by_value("erin")
    Select(driver.find_element(By.ID, "attach-policy")).select_by_value("readonly")
    driver.find_element(By.CSS_SELECTOR, "#attach-form button").click()
    wait(EC.text_to_be_present_in_element(css(f"{erin} td:nth-child(3)"), "readonly"),
         what="readonly attached to erin")
    ui.shot("17-policy-attached")
