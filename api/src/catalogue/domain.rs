//! Values of catalogue queries parsed at the boundary.

use crate::error::{AppError, AppResult};

/// The folded text free-text search looks in: name, alternate name and description.
pub fn search_text(name: &str, alternate_name: Option<&str>, description: &str) -> String {
    let mut text = String::with_capacity(name.len() + description.len() + 32);
    text.push_str(name);
    if let Some(alternate) = alternate_name {
        text.push(' ');
        text.push_str(alternate);
    }
    text.push(' ');
    text.push_str(description);
    melt_text::fold(&text)
}

/// Mean Earth radius used for distances, in km.
const EARTH_RADIUS_KM: f64 = 6371.0;

/// A circle on the map: services with a location inside it match.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Near {
    /// Latitude of the centre, degrees.
    pub latitude: f64,
    /// Longitude of the centre, degrees.
    pub longitude: f64,
    /// Radius, km.
    pub radius_km: f64,
}

impl Near {
    /// Checks the coordinates and the radius (at most 500 km).
    pub fn parse(latitude: f64, longitude: f64, radius_km: f64) -> AppResult<Self> {
        if !(-90.0..=90.0).contains(&latitude) {
            return Err(AppError::BadUserInput(
                "latitude must be between -90 and 90".into(),
            ));
        }
        if !(-180.0..=180.0).contains(&longitude) {
            return Err(AppError::BadUserInput(
                "longitude must be between -180 and 180".into(),
            ));
        }
        if !(radius_km > 0.0 && radius_km <= 500.0) {
            return Err(AppError::BadUserInput(
                "radiusKm must be above 0 and at most 500".into(),
            ));
        }
        Ok(Self {
            latitude,
            longitude,
            radius_km,
        })
    }

    /// Km per degree of latitude.
    pub fn km_per_degree_latitude() -> f64 {
        EARTH_RADIUS_KM * std::f64::consts::PI / 180.0
    }

    /// Km per degree of longitude at the centre's latitude.
    pub fn km_per_degree_longitude(&self) -> f64 {
        Self::km_per_degree_latitude() * self.latitude.to_radians().cos()
    }

    /// Half the height and half the width, in degrees of latitude and of longitude, of
    /// a box around the centre that holds the circle (a hair larger, so that rounding
    /// never leaves out a site on the circle: the radius decides).
    pub fn half_box_degrees(&self) -> (f64, f64) {
        let margin = 1.0 + 1e-9;
        (
            self.radius_km / Self::km_per_degree_latitude() * margin,
            self.radius_km / self.km_per_degree_longitude() * margin,
        )
    }

    /// Distance in km from the centre, by the equirectangular projection at the
    /// centre's latitude: the same formula the database filter uses, within 0.5% of
    /// the great-circle distance at regional scale.
    pub fn distance_km(&self, latitude: f64, longitude: f64) -> f64 {
        let dy = (latitude - self.latitude) * Self::km_per_degree_latitude();
        let dx = (longitude - self.longitude) * self.km_per_degree_longitude();
        (dx * dx + dy * dy).sqrt()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pisa_to_florence_is_about_seventy_km() {
        let pisa = Near::parse(43.7167, 10.4017, 100.0).map_err(|e| e.to_string());
        let pisa = pisa.unwrap_or_else(|e| panic!("{e}"));
        let km = pisa.distance_km(43.7696, 11.2558);
        assert!((68.0..71.0).contains(&km), "{km}");
    }

    #[test]
    fn the_box_around_a_circle_holds_every_point_of_its_edge() {
        let centre = Near::parse(43.7167, 10.4017, 25.0).map_err(|e| e.to_string());
        let centre = centre.unwrap_or_else(|e| panic!("{e}"));
        let (half_height, half_width) = centre.half_box_degrees();
        for step in 0..360 {
            let angle = f64::from(step).to_radians();
            let lat =
                centre.latitude + centre.radius_km * angle.sin() / Near::km_per_degree_latitude();
            let lon = centre.longitude
                + centre.radius_km * angle.cos() / centre.km_per_degree_longitude();
            assert!((centre.distance_km(lat, lon) - 25.0).abs() < 1e-9);
            assert!((lat - centre.latitude).abs() <= half_height, "{step}");
            assert!((lon - centre.longitude).abs() <= half_width, "{step}");
        }
        // And hardly more: the box is the circle's, not a larger one.
        assert!(half_height * Near::km_per_degree_latitude() < 25.001);
        assert!(half_width * centre.km_per_degree_longitude() < 25.001);
    }

    #[test]
    fn out_of_range_points_are_refused() {
        assert!(Near::parse(91.0, 10.0, 5.0).is_err());
        assert!(Near::parse(43.0, 181.0, 5.0).is_err());
        assert!(Near::parse(43.0, 10.0, 0.0).is_err());
        assert!(Near::parse(43.0, 10.0, 501.0).is_err());
        assert!(Near::parse(43.0, 10.0, f64::NAN).is_err());
    }
}
