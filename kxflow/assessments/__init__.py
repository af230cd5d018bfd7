"""National county S&T progress assessment (全国县（市）科技进步考核) results, imported per round."""
